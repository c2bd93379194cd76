"""`UsageError`: what both command lines (`wskit`, `wskit ssot`) raise for a bad argument.

Apart from the runtime's errors and the analyzer's, since both command lines raise it and the
analyzer imports nothing of the runtime.
"""

__all__ = ["UsageError"]


class UsageError(Exception):
    """Bad command-line arguments or configuration: printed as one line, exit code 2."""
