"""`python -m alog_runtime`: see alog_runtime.cli."""

import sys

from .cli import main

sys.exit(main())
