"""The one exception base of the toolkit; each subclass carries the exit code it stands for."""


class ToolkitError(Exception):
    """A failure with a message fit for one line of CI output."""

    exit_code = 1


class InputError(ToolkitError):
    """Bad data or input: a missing file, invalid JSON, a wrong value."""

    exit_code = 1


class Rejected(ToolkitError):
    """The thing checked was judged and found wanting (gate failed, data invalid)."""

    exit_code = 2
