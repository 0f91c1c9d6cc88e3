"""Errors a user can meet: one sentence naming the file, row or column and what was expected.

Every error obsmap reports to a person derives from :class:`ObsmapError`; ``str(err)`` is the
sentence shown, and the command line prints it after ``obsmap:`` with no traceback. Programming
errors (a broken invariant) are not ObsmapErrors: they should surface as tracebacks.
"""


class ObsmapError(Exception):
    """Base of the errors obsmap reports to a user. ``str(err)`` is one sentence."""


class InputError(ObsmapError, ValueError):
    """A whole input file cannot be used. ``str(err)`` is the sentence shown to the user."""


class MissionDataError(ObsmapError, ValueError):
    """A mission folder that cannot be read; the message names the file and what was expected."""
