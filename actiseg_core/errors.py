"""Errors that user-facing commands turn into a one-line message and a non-zero exit."""


class ActiSegError(Exception):
    """An error the user can act on; its message is printed as one line, without a traceback."""


class DataError(ActiSegError):
    """Missing, corrupt or malformed data; the message names the offending file."""
