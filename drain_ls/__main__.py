"""Allow ``python -m drain_ls``."""

from drain_ls.cli import main

raise SystemExit(main())
