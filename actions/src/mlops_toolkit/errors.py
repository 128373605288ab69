"""The one exception type the CLI turns into a one-line error and a non-zero exit."""


class ToolkitError(Exception):
    """A failure with a message fit for one line of CI output."""

    exit_code = 1


class Rejected(ToolkitError):
    """The thing checked was judged and found wanting (gate failed, data invalid)."""

    exit_code = 2
