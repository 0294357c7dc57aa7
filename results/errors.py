"""The one exception of the parsers, kept apart so that every parser can raise it."""


class UnknownOutputError(ValueError):
    """The text is no output of a tool we know (or is empty, or unreadable as such).

    A run that failed is not this: its output still records the failure, and the parsers
    return it as figures with `ok=False`. This is for text nobody can read figures from.
    """
