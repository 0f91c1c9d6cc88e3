"""Errors a user can meet: one sentence naming the file, row or column and what was expected."""


class InputError(ValueError):
    """A whole input file cannot be used. ``str(err)`` is the sentence shown to the user."""


class ExportUnavailable(RuntimeError):
    """This machine cannot make images or PDF briefs (no chromium); the message says what to install."""
