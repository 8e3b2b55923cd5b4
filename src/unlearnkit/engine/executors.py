"""Executors: where task bodies run. ``inline`` (this process, the default) or Ray.

Both offer the same four calls — :meth:`~Executor.submit` a function with its arguments,
:meth:`~Executor.put` a large object shared by many tasks, :meth:`~Executor.next_done` (the
next finished task, its value or its exception) and :meth:`~Executor.close` — so the engine's
driver loop is one piece of code. Ray is the scheduler; there is no pool of our own.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from unlearnkit.engine.spec import EngineConfig
from unlearnkit.errors import ConfigError
from unlearnkit.utils import log

__all__ = ["Executor", "InlineExecutor", "RayExecutor", "make_executor"]


class Executor(ABC):
    """Runs task bodies; see the module docstring."""

    #: "inline" or "ray"
    kind: str = ""

    @abstractmethod
    def submit(self, fn: Callable[..., Any], *args: Any, priority: int = 0) -> int:
        """Schedule ``fn(*args)``; returns a handle. Higher ``priority`` runs first where the
        executor chooses the order (inline); Ray schedules by resources."""

    def put(self, obj: Any) -> Any:
        """A reference to ``obj`` that :meth:`submit` arguments may carry (shared, not copied
        per task, on Ray); inline it is ``obj`` itself."""
        return obj

    @abstractmethod
    def next_done(self) -> tuple[int, bool, Any]:
        """Wait for a submitted task to finish: ``(handle, ok, value or exception)``."""

    @abstractmethod
    def pending(self) -> int:
        """Tasks submitted and not yet returned by :meth:`next_done`."""

    def close(self, cancel: bool = False) -> None:
        """Release the workers; ``cancel`` stops tasks still running (Ctrl-C, errors)."""

    @property
    def slots(self) -> int:
        """How many tasks can run at once (the engine keeps about this many groups open)."""
        return 1


class InlineExecutor(Executor):
    """Runs each task in this process when its result is asked for (highest priority first,
    then in submission order): today's one-model-at-a-time behaviour."""

    kind = "inline"

    def __init__(self) -> None:
        self._queue: list[tuple[int, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._ids = itertools.count()

    def submit(self, fn: Callable[..., Any], *args: Any, priority: int = 0) -> int:
        handle = next(self._ids)
        self._queue.append((priority, handle, fn, args))
        return handle

    def next_done(self) -> tuple[int, bool, Any]:
        if not self._queue:
            raise RuntimeError("no task is pending")
        best = max(range(len(self._queue)), key=lambda i: (self._queue[i][0], -self._queue[i][1]))
        _, handle, fn, args = self._queue.pop(best)
        try:
            return handle, True, fn(*args)
        except Exception as exc:  # the driver records it
            return handle, False, exc

    def pending(self) -> int:
        return len(self._queue)


def _call_with_threads(fn: Callable[..., Any], threads: int, *args: Any) -> Any:
    """On a Ray worker: torch uses the task's CPU share, then the body runs."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return fn(*args)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:  # pragma: no cover (the extra is installed in CI)
        raise ConfigError(
            "--workers / --ray-address need Ray: pip install 'unlearnkit[ray]' (or leave them "
            "out to run inline)"
        ) from None
    return ray


class RayExecutor(Executor):
    """Runs tasks on Ray: a local runtime of ``workers`` task slots, the cluster at
    ``ray_address`` (or ``$RAY_ADDRESS``), or the runtime already started in this process.

    Each task reserves ``cpus_per_task`` CPUs (torch's thread count is set to that) and
    ``gpus_per_task`` GPUs (fractions share a GPU). A runtime this executor started is shut
    down by :meth:`close`, which also cancels unfinished tasks, so no worker outlives the
    driver's exit or Ctrl-C. A local runtime listens on 127.0.0.1 only.
    """

    kind = "ray"

    def __init__(self, config: EngineConfig) -> None:
        address = config.ray_address or os.environ.get("RAY_ADDRESS")
        if not address:
            # a local runtime never listens on the network: Ray then uses 127.0.0.1 (read when
            # ray is imported, so set before the import)
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        ray = _import_ray()
        self.ray = ray
        self.config = config
        self.owned = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(
                    num_cpus=max(1, round(config.workers * config.cpus_per_task)),
                    include_dashboard=False,
                    log_to_driver=False,
                )
            self.owned = True
        self._remote = ray.remote(_call_with_threads)
        self._refs: dict[Any, int] = {}
        self._ids = itertools.count()
        cpus = ray.cluster_resources().get("CPU", 1)
        self._slots = max(1, int(cpus // config.cpus_per_task))
        log(
            f"[engine] ray: {self._slots} task slot(s) of {config.cpus_per_task:g} CPU"
            + (f" + {config.gpus_per_task:g} GPU" if config.gpus_per_task else "")
        )

    @property
    def slots(self) -> int:
        return self._slots

    def submit(self, fn: Callable[..., Any], *args: Any, priority: int = 0) -> int:
        handle = next(self._ids)
        threads = max(1, int(self.config.cpus_per_task))
        ref = self._remote.options(
            num_cpus=self.config.cpus_per_task,
            num_gpus=self.config.gpus_per_task,
            max_retries=0,
        ).remote(fn, threads, *args)
        self._refs[ref] = handle
        return handle

    def put(self, obj: Any) -> Any:
        return self.ray.put(obj)

    def next_done(self) -> tuple[int, bool, Any]:
        if not self._refs:
            raise RuntimeError("no task is pending")
        ready, _ = self.ray.wait(list(self._refs), num_returns=1)
        ref = ready[0]
        handle = self._refs.pop(ref)
        try:
            return handle, True, self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            return handle, False, cause if isinstance(cause, Exception) else exc
        except self.ray.exceptions.RayError as exc:  # a worker died, the node was lost ...
            return handle, False, exc

    def pending(self) -> int:
        return len(self._refs)

    def close(self, cancel: bool = False) -> None:
        # an owned runtime's shutdown stops its workers; cancelling first races the replies of
        # tasks that are finishing (Ray 2.60 aborts the driver: "Tried to complete task that
        # was not pending"), so only tasks on a joined cluster are cancelled
        if cancel and not self.owned:
            for ref in list(self._refs):
                with contextlib.suppress(Exception):
                    self.ray.cancel(ref, force=True)
        self._refs.clear()
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()
            self.owned = False


def make_executor(config: EngineConfig | None) -> Executor:
    """Inline unless ``config`` asks for Ray (``workers`` > 0 or a cluster address)."""
    if config is None or config.inline:
        return InlineExecutor()
    return RayExecutor(config)
