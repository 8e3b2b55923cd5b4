"""Small shared helpers: explicit devices, seeding, eval-mode context, progress bars."""

from __future__ import annotations

import contextlib
import random
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from unlearnkit.errors import ConfigError, DivergenceError
from unlearnkit.records import atomic_write  # noqa: F401  (re-export: used across the package)

T = TypeVar("T")
DIVERGENCE_HINT = "Lower the learning rate, add gradient clipping, or shorten the run."


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` → CUDA if available, else CPU; otherwise the named device (checked)."""
    if isinstance(name, torch.device):
        return name
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device '{name}'; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' requested but CUDA is not available; use --device cpu")
    return dev


def seed_all(seed: int) -> None:
    """Seed Python, NumPy and torch (model initialisation draws from torch's global RNG)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A dedicated torch generator (batch order, augmentation) so that init and data order
    are controlled separately by the seed."""
    g = torch.Generator(device="cpu")
    g.manual_seed(int(seed))
    return g


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and ``no_grad`` inside; the previous mode is restored on exit."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


#: 0 = quiet (nothing), 1 = one progress line per phase + phase messages, 2 = also per-epoch
#: and per-model detail lines (``-v``). Set by the CLI with :func:`set_verbosity`.
_VERBOSITY = 1


def set_verbosity(level: int) -> None:
    """0 quiet, 1 normal (default), 2 verbose: what :func:`progress` and :func:`log` show."""
    global _VERBOSITY
    _VERBOSITY = int(level)


def progress(iterable: Iterable[T], *, enabled: bool = True, **kwargs: Any) -> Iterable[T]:
    """A tqdm bar on stderr when enabled; none when stderr is not a terminal (tqdm's
    ``disable=None``), e.g. redirected to a file, or in quiet mode. The bar is removed when
    its phase ends (``leave=False``), so a run shows one live line per phase."""
    if not enabled or _VERBOSITY <= 0:
        return iterable
    from tqdm.auto import tqdm

    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("disable", None)
    return tqdm(iterable, **kwargs)


def check_finite(value: torch.Tensor | float, what: str, hint: str = "") -> None:
    """Raise :class:`DivergenceError` if ``value`` is NaN or infinite."""
    v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
    if not np.isfinite(v):
        raise DivergenceError(f"{what} became {v}: training diverged. " + (hint or DIVERGENCE_HINT))


class FiniteCheck:
    """The NaN/inf check of a loss every ``every`` steps, without a host sync in between.

    ``every == 1`` checks each loss at once (:func:`check_finite`, one host synchronisation per
    step: today's behaviour and message). ``every > 1`` ORs ``~isfinite(loss)`` into a flag on
    the loss's device and reads it only every ``every`` calls and on :meth:`flush` (call it at
    the end of each epoch), so a divergence raises :class:`DivergenceError` at most ``every``
    steps after it happened, naming the window of steps.
    """

    def __init__(self, every: int, what: str, hint: str = "") -> None:
        if every < 1:
            raise ConfigError(f"the finiteness check interval must be >= 1 step, got {every}")
        self.every, self.what, self.hint = int(every), what, hint
        self._bad: torch.Tensor | None = None
        self._first = self._calls = 0

    def __call__(self, loss: torch.Tensor, what: str | None = None) -> None:
        """Check (or record for the next flush) one step's loss."""
        self._calls += 1
        if self.every == 1:
            check_finite(loss, what or self.what, self.hint)
            return
        flag = ~torch.isfinite(loss.detach()).all()
        self._bad = flag if self._bad is None else self._bad | flag
        if self._calls - self._first >= self.every:
            self.flush()

    def flush(self) -> None:
        """Read the flag (one host sync) and raise if any loss since the last read was bad."""
        bad, first, last = self._bad, self._first + 1, self._calls
        self._bad, self._first = None, self._calls
        if bad is not None and bool(bad):
            raise DivergenceError(
                f"{self.what} became NaN or infinite between steps {first} and {last} (counted "
                f"from 1; checked every {self.every} steps): training diverged. "
                + (self.hint or DIVERGENCE_HINT)
            )


def log(msg: str, *, enabled: bool = True, detail: bool = False) -> None:
    """A message line on stderr (stdout stays for tables and JSON), written through
    ``tqdm.write`` so that it never collides with a live bar. ``detail`` lines (per epoch, per
    model) are shown only in verbose mode (``-v``)."""
    if not enabled or _VERBOSITY <= 0 or (detail and _VERBOSITY < 2):
        return
    from tqdm.auto import tqdm

    tqdm.write(msg, file=sys.stderr)
    sys.stderr.flush()
