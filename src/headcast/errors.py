"""Errors that reach the user as one line of text."""


class HeadcastError(Exception):
    """A failure caused by the input or the environment, reported without a traceback."""


class InputError(HeadcastError):
    """The input is missing, unreadable, of the wrong kind or outside the limits."""
