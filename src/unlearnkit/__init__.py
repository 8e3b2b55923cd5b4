"""unlearnkit: machine unlearning of trained classifiers, with SURE as its flagship.

See DESIGN notes in docs/ and the README for the quick start.
"""

from __future__ import annotations

__version__ = "0.1.0"

from unlearnkit.errors import UnlearnkitError

__all__ = ["UnlearnkitError", "__version__"]
