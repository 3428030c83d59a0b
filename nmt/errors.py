"""Errors that are the user's to fix: the CLIs print them as one line and exit 2."""


class NmtError(Exception):
    """A mistake in the user's input (config, corpus, model directory); the message is one line."""


class ConfigError(NmtError):
    """A bad configuration key, type or value."""


class DataError(NmtError):
    """A corpus that cannot be read or that filtering left empty."""


def gist(err: BaseException, *, limit: int = 300) -> str:
    """A library's exception as one short line, for an error message that quotes why it failed: its
    first line without a source location ("file.cc(12) [check] "), or for torch's load_state_dict
    the mismatches that follow its headline."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    if lines[0].startswith("Error(s) in loading state_dict") and len(lines) > 1:
        return " ".join(lines[1:])[:limit]
    return lines[0].rsplit("] ", 1)[-1][:limit]
