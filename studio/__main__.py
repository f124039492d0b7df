"""`python -m studio ...`: the command line shared with the app's code path."""

from studio.cli import main

raise SystemExit(main())
