"""Errors a user can meet: one sentence naming the file, row or column and what was expected."""


class InputError(ValueError):
    """A whole input file cannot be used. ``str(err)`` is the sentence shown to the user."""
