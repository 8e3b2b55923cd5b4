"""Errors raised for user mistakes (bad input, missing files, bad configuration).

The CLI turns an :class:`UnlearnkitError` into one clear message and exit code 2, with no
traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UnlearnkitError(Exception):
    """A user-facing error: the message says what was expected and how to fix it."""


class ConfigError(UnlearnkitError):
    """An invalid configuration value or an unknown key.

    ``field`` names the config field at fault when there is one, so that the CLI can say
    which flag or file set it."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DataError(UnlearnkitError):
    """A missing, corrupt or malformed dataset file, or an invalid split."""


class DivergenceError(UnlearnkitError):
    """Training produced a NaN or infinite loss."""
