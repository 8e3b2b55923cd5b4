"""``python -m unlearnkit.cli`` = the ``unlearnkit`` command."""

import sys

from unlearnkit.cli import main

sys.exit(main())
