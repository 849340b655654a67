"""`python -m emulator`: see emulator/cli.py."""

import sys

from .cli import main

sys.exit(main())
