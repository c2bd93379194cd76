"""`python -m wskit` runs the `wskit` command."""

from wskit.cli import run

run()
