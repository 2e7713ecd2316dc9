"""Errors that reach the user as one line of text."""


class HeadcastError(Exception):
    """A failure caused by the input or the environment, reported without a traceback."""


class InputError(HeadcastError):
    """The input is missing, unreadable, of the wrong kind or outside the limits."""


class EngineError(HeadcastError):
    """An engine's server failed or could not be used; the text names the server."""

    unreachable = False  # no connection could be made: new sessions back off
    what = ""  # the failure, without the server's name
