"""Errors that are the user's to fix: the CLIs print them as one line and exit 2."""


class NmtError(Exception):
    """A mistake in the user's input (config, corpus, model directory); the message is one line."""


class ConfigError(NmtError):
    """A bad configuration key, type or value."""


class DataError(NmtError):
    """A corpus that cannot be read or that filtering left empty."""
