"""``python -m devhost``: serve the app locally (see devhost/cli.py and the README)."""

from devhost.cli import main

raise SystemExit(main())
