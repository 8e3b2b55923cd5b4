"""The driver: groups in, tasks out, results handed back one at a time.

:class:`Engine` takes a list of :class:`~unlearnkit.engine.spec.UnlearnTask` (any mix of
groups), and for each group, in the order the tasks name them: finds its original and retrain
in the model cache or trains them as tasks (the driver writes them into the cache), ships the
weights once to the executor (:meth:`Executor.put`), then runs the group's tasks. Every
finished task — ``ok`` or ``failed`` — is handed to the caller's ``on_result`` in the driver
process, which alone writes results. About :attr:`Executor.slots` groups are open at a time
(one inline, so memory stays that of one group).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from unlearnkit.engine.executors import Executor, make_executor
from unlearnkit.engine.group import (
    GroupModels,
    TrainedModel,
    describe_data,
    load_cached,
    prepared_data,
    store_trained,
    train_role,
)
from unlearnkit.engine.spec import REFERENCE_METHODS, EngineConfig, GroupSpec, UnlearnTask
from unlearnkit.engine.tasks import TaskResult, failed_row, finish_row, run_unlearn
from unlearnkit.utils import log

__all__ = ["Engine", "OnResult"]

OnResult = Callable[[UnlearnTask, TaskResult], None]


@dataclass
class _OpenGroup:
    spec: GroupSpec
    tasks: list[UnlearnTask]
    models: dict[str, TrainedModel] = field(default_factory=dict)
    split_sha256: str = ""
    remaining: int = 0
    failed: bool = False


class Engine:
    """Runs task lists on an executor (see the module docstring).

    Args:
        config: inline (default) or Ray (:class:`~unlearnkit.engine.spec.EngineConfig`).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, resolved where each task runs.
        cache_dir: the model cache (originals and retrains), or None to always train.
        show_progress: log lines and, inline, the training bars.
        executor: an executor to use instead of the one ``config`` describes.

    Use it as a context manager: leaving the block (also by Ctrl-C or an error) stops the
    workers it started.
    """

    def __init__(
        self,
        config: EngineConfig | None = None,
        *,
        device: str = "auto",
        cache_dir: Path | None = None,
        show_progress: bool = True,
        executor: Executor | None = None,
    ) -> None:
        self.config = config or EngineConfig()
        self.device = str(device)
        self.cache_dir = cache_dir
        self.show = show_progress
        self.executor = executor if executor is not None else make_executor(self.config)
        self._jobs: dict[int, tuple[str, str, Any]] = {}
        self._described = ""

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self, tp: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(cancel=exc is not None)

    def close(self, cancel: bool = False) -> None:
        self.executor.close(cancel=cancel)

    @property
    def inline(self) -> bool:
        return self.executor.kind == "inline"

    # -- groups -------------------------------------------------------------------------------
    def _open(self, st: _OpenGroup, on_result: OnResult) -> None:
        """Find the group's models in the cache; train the missing ones as tasks."""
        try:
            split, _ = prepared_data(st.spec)
            st.split_sha256 = split.sha256
            described = describe_data(st.spec)
            if described != self._described:
                self._described = described
                log(f"[data] {described}", enabled=self.show)
            for role in REFERENCE_METHODS:
                cached = None
                if self.cache_dir is not None:
                    cached = load_cached(self.cache_dir, role, st.spec, split, self.show)
                if cached is not None:
                    st.models[role] = cached
                    continue
                log(f"[engine] group {st.spec.key}: training {role}", enabled=self.show)
                args = (st.spec, role, self.device, self.show and self.inline)
                handle = self.executor.submit(train_role, *args, priority=0)
                self._jobs[handle] = ("train", st.spec.key, role)
        except Exception as exc:  # the group fails; the rest goes on
            self._fail(st, exc, on_result)
            return
        self._launch(st)

    def _launch(self, st: _OpenGroup) -> None:
        """Once both models are there: share them and submit the group's tasks."""
        if st.failed or any(r not in st.models for r in REFERENCE_METHODS):
            return
        models = GroupModels(st.split_sha256, st.models["original"], st.models["retrain"])
        ref = self.executor.put(models)
        for task in st.tasks:
            handle = self.executor.submit(run_unlearn, task, ref, self.device, priority=1)
            self._jobs[handle] = ("task", st.spec.key, task)

    def _fail(self, st: _OpenGroup, exc: BaseException, on_result: OnResult) -> None:
        st.failed = True
        msg = f"original/retrain failed: {type(exc).__name__}: {exc}"
        log(f"[engine] group {st.spec.key}: {msg}", enabled=self.show)
        for task in st.tasks:
            on_result(task, TaskResult(finish_row(failed_row(task, msg), self.device), error=exc))
        st.remaining = 0

    def _trained(
        self, st: _OpenGroup, role: str, ok: bool, value: Any, on_result: OnResult
    ) -> None:
        if not ok:
            if not st.failed:
                self._fail(st, value, on_result)
            return
        if self.cache_dir is not None:
            store_trained(self.cache_dir, role, st.spec, value)
        st.models[role] = value
        self._launch(st)

    # -- the loop -----------------------------------------------------------------------------
    def run(self, tasks: Sequence[UnlearnTask], on_result: OnResult) -> None:
        """Run ``tasks`` and call ``on_result(task, result)`` for each as it finishes (in the
        driver; inline in order, on Ray in completion order)."""
        by_group: OrderedDict[str, _OpenGroup] = OrderedDict()
        for task in tasks:
            st = by_group.setdefault(task.group.key, _OpenGroup(task.group, []))
            st.tasks.append(task)
            st.remaining += 1
        waiting = list(by_group.values())
        open_groups: dict[str, _OpenGroup] = {}
        window = self.executor.slots if not self.inline else 1
        while waiting or open_groups:
            while waiting and len(open_groups) < max(1, window):
                st = waiting.pop(0)
                open_groups[st.spec.key] = st
                self._open(st, on_result)
            for key in [k for k, s in open_groups.items() if s.remaining == 0]:
                del open_groups[key]
            if not open_groups:
                continue
            handle, ok, value = self.executor.next_done()
            kind, key, what = self._jobs.pop(handle)
            st = by_group[key]
            if kind == "train":
                self._trained(st, what, ok, value, on_result)
            elif not st.failed:
                result = value if ok else self._crashed(what, value)
                on_result(what, result)
                st.remaining -= 1

    def _crashed(self, task: UnlearnTask, exc: BaseException) -> TaskResult:
        """A task whose process failed outside its body (a worker died, a lost node)."""
        row = failed_row(task, f"{type(exc).__name__}: {exc}")
        return TaskResult(finish_row(row, self.device), error=exc)

    def put(self, obj: Any) -> Any:
        """Share ``obj`` with many tasks (Ray: once into the object store)."""
        return self.executor.put(obj)

    def map(self, fn: Callable[..., Any], calls: list[tuple[Any, ...]]) -> list[Any]:
        """``[fn(*call) for call in calls]`` as tasks (the attacks' pool models and unlearning
        runs), in the order of ``calls``; the first failure raises its exception."""
        handles = [self.executor.submit(fn, *call) for call in calls]
        done: dict[int, Any] = {}
        failure: BaseException | None = None
        while len(done) < len(handles):  # all of them: the engine stays usable after a failure
            handle, ok, value = self.executor.next_done()
            done[handle] = value
            if not ok and failure is None:
                failure = value
        if failure is not None:
            raise failure
        return [done[h] for h in handles]

    def results(self, tasks: Sequence[UnlearnTask]) -> dict[str, TaskResult]:
        """Run ``tasks`` and return every result by task key (for callers with few tasks)."""
        out: dict[str, TaskResult] = {}
        self.run(tasks, lambda task, result: out.__setitem__(task.key, result))
        return out
