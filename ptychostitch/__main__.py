"""``python -m ptychostitch`` runs the command line."""

from ptychostitch.cli import main

raise SystemExit(main())
