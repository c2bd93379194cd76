"""`python -m wskit` runs the `wskit` command."""

import sys

from wskit.cli import main

sys.exit(main())
