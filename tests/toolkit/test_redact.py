"""`redact`: every URL in a text parsed, its credentials masked; and the CLI's one error handler
passes every command's line (stderr and the failure log, the PR comment) through it."""

from __future__ import annotations

import pytest
from mlops_toolkit import cli
from mlops_toolkit.commands import pull_data
from mlops_toolkit.core.redact import redact
from mlops_toolkit.errors import ToolkitError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A one-letter password: a substring replacement would mask every "a" of the line.
        (
            "pull from https://alice:a@host/data failed",
            "pull from https://alice:***@host/data failed",
        ),
        ("(https://u:p@ss@host:8443/x): refused", "(https://u:***@host:8443/x): refused"),
        ("https://u:p%40ss@host/x.", "https://u:***@host/x."),
        # An AWS secret key holds "/": its tail must not be read as the path.
        ("s3://AKIA:ab/cd+ef@bucket/key missing", "s3://AKIA:***@bucket/key missing"),
        (
            "a http://x:one@h1/p and 'https://y:two@h2/q?token=t0k&page=2', then s3://b/k",
            "a http://x:***@h1/p and 'https://y:***@h2/q?token=***&page=2', then s3://b/k",
        ),
        (
            "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIA%2F20260101%2Fus-east-1&X-Amz-Signature=abc123&x-id=GetObject",
            "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=***&X-Amz-Signature=***&x-id=GetObject",
        ),
        (
            "https://acct.blob.core.windows.net/c/b?sv=2022&sig=Zm9v%3D&password=pw&access_token=t",
            "https://acct.blob.core.windows.net/c/b?sv=2022&sig=***&password=***&access_token=***",
        ),
        ("https://ghp_0123456789abcdefghij@github.com/o/r", "https://***@github.com/o/r"),
    ],
    ids=[
        "one-letter",
        "at-in-password",
        "encoded-at",
        "slash-in-password",
        "several-urls",
        "s3-presigned",
        "sas-and-token-params",
        "token-as-user",
    ],
)
def test_redact_masks_credentials(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "no URL: user:a@host, a password a, key=value",
        "https://mlflow.example.com:5000/#/experiments/1?x=1",
        "http://user@host/path and s3://bucket/path?versionId=3",
        "",
    ],
)
def test_text_without_credentials_is_unchanged(text):
    assert redact(text) == text


def test_every_command_error_is_redacted_in_the_line_and_the_failure_log(
    monkeypatch, capsys, tmp_path
):
    """The single handler: whatever command fails, its line goes through `redact`."""

    def fail(args):
        raise ToolkitError("GET https://bot:a@host/x?sig=s1gn4ture failed")

    failures = tmp_path / "failures.log"
    monkeypatch.setattr(pull_data, "run", fail)
    monkeypatch.setenv("MLOPS_FAILURE_LOG", str(failures))
    monkeypatch.setenv("GITHUB_ACTIONS", "")
    assert cli.main(["pull-data"]) == 1
    line = "GET https://bot:***@host/x?sig=*** failed"
    assert capsys.readouterr().err == f"mlops-toolkit pull-data: error: {line}\n"
    assert failures.read_text() == f"mlops-toolkit pull-data: {line}\n"
