"""``python -m unlearnkit`` = the ``unlearnkit`` command."""

import sys

from unlearnkit.cli import main

sys.exit(main())
