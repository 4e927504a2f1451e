"""Exceptions that reach a person as one line on stderr (exit code 2), never as a traceback."""


class InputError(Exception):
    """Bad input or usage: a missing file, a wrong key or shape, an impossible request.

    The message is a single line that names what was wrong (file, key, expected and found).
    The command line prints it and exits with status 2.
    """


class PluginError(InputError):
    """The installed plugins cannot be combined (for example two stitchers share one name)."""
