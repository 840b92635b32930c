"""`python -m briefbot` runs the command line."""

from briefbot.cli import main

raise SystemExit(main())
