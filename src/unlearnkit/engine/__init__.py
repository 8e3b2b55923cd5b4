"""The one experiment engine: groups and content-addressed tasks, run inline or on Ray.

``run``, ``benchmark``, ``tune`` and ``attack`` only build task lists and hand them to the
engine; none of them loads data or trains models itself.

Terms
-----
* :class:`GroupSpec` — a dataset + split, the original's recipe and the retrain's recipe.
  Its models are found in the model cache or trained once (as tasks), then shared with every
  worker (Ray object store; inline, the same objects); the group's data and reference outputs
  are built once per process (:func:`~unlearnkit.engine.group.build_group`).
* :class:`UnlearnTask` — one method config on one group, evaluated on ``target`` (``"test"``,
  or ``"val"`` in test's place for tuning) against the group's retrain: one row. Its
  :attr:`~UnlearnTask.key` (the row's ``run_id``) is a stable hash of everything that
  determines the row — group, method, method config, evaluation config, target — and nothing
  else, so results are cached, resumable and identical on any executor.
* :class:`TaskResult` — the row (``status`` ``ok`` / ``failed`` with error and traceback), the
  per-example arrays asked for by :class:`SideOutputs`, and the weights with ``keep_model``.
* :class:`EngineConfig` — ``workers`` (0 = inline, the default; N = a local Ray runtime of N
  task slots on 127.0.0.1), ``ray_address`` (join a cluster; ``$RAY_ADDRESS`` too),
  ``cpus_per_task`` (torch threads), ``gpus_per_task`` (fractional: share a GPU).

Use
---
::

    from unlearnkit.engine import Engine, EngineConfig, GroupSpec, UnlearnTask

    group = GroupSpec(split_cfg, model_cfg, train_cfg)
    tasks = [UnlearnTask(group, "finetune", FinetuneConfig(seed=0), EvalConfig())]
    with Engine(EngineConfig(workers=2), device="cpu", cache_dir=cache) as engine:
        engine.run(tasks, on_result)        # on_result(task, result), in this process
        # or: results = engine.results(tasks)   # {task.key: TaskResult}

Only the process that calls :meth:`Engine.run` writes: the model cache (trained originals and
retrains arrive as weights) and, through ``on_result``, the caller's results. Callers that keep
an output folder use :mod:`unlearnkit.records`: ``exclusive_folder`` (a second driver on the
folder is refused), ``store_or_check`` (a changed config is refused), ``ResultsFile`` (one
fsynced line per finished task; ``done(key)`` gives the finished keys, so a resume runs only the
rest — failed tasks included — after a crash, SIGKILL or Ctrl-C). Leaving the ``with`` block
(also by Ctrl-C) cancels running tasks and shuts down a Ray runtime the engine started.

See ``docs/design.md`` (the engine) and ``docs/scale-out.md`` (clusters, GPUs, cost model).
"""

from unlearnkit.engine.core import Engine
from unlearnkit.engine.executors import Executor, InlineExecutor, RayExecutor, make_executor
from unlearnkit.engine.group import Group, GroupModels, build_group, group_models
from unlearnkit.engine.spec import (
    DEFAULT_METHODS,
    EVAL_TARGETS,
    REFERENCE_METHODS,
    EngineConfig,
    GroupSpec,
    PoolTask,
    SideOutputs,
    UnlearnTask,
    recipe_defaults,
)
from unlearnkit.engine.tasks import TaskResult, run_unlearn

__all__ = [
    "DEFAULT_METHODS",
    "EVAL_TARGETS",
    "REFERENCE_METHODS",
    "Engine",
    "EngineConfig",
    "Executor",
    "Group",
    "GroupModels",
    "GroupSpec",
    "InlineExecutor",
    "PoolTask",
    "RayExecutor",
    "SideOutputs",
    "TaskResult",
    "UnlearnTask",
    "build_group",
    "group_models",
    "make_executor",
    "recipe_defaults",
    "run_unlearn",
]
