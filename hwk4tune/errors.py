"""The one error family the command line turns into a single line and exit code 2.

Every module raises its own subclass (a missing data set, a bad results folder, a bad config file, an
unreachable cluster), so callers from Python can tell them apart, and ``cli.main`` catches them all here.
No imports: every layer may use it.
"""


class InputError(Exception):
    """Bad input found outside a spec file's validation: a flag, a folder, a data set, a config file."""
