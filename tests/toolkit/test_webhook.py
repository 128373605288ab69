"""Registry webhooks (registry/webhooks.py, `webhook`): a real `mlflow server` signs and POSTs
alias moves and new versions to a receiver on loopback; the receiver's `verify` accepts them
under the secret and refuses them under another; the command is idempotent and never shows the
secret; a server without webhooks ends in one line (or a warning with --skip-unsupported)."""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import ACTIONS_SRC, REPO, cli, outputs, register_version
from mlops_toolkit.registry import webhooks
from mlops_toolkit.tracking.probe import _AUTH_PROBE
from test_actions import run_composite

SECRET = "s3cr3t-" + uuid.uuid4().hex  # unique: found in no output by chance
DELIVERY_WAIT_S = 30


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """The team's end: a loopback HTTP server that keeps every POST it gets."""

    def __init__(self) -> None:
        got: queue.Queue[Delivery] = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got.put(Delivery(dict(self.headers.items()), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.got = got
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mlflow"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, matches: Callable[[dict], bool]) -> Delivery:
        """The first delivery whose event matches (other tests' models arrive too: webhooks are
        registry-wide)."""
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                delivery = self.got.get(timeout=left)
            except queue.Empty:
                break
            if matches(delivery.event):
                return delivery
        raise AssertionError("no such delivery arrived")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def about(model: str, entity: str, action: str) -> Callable[[dict], bool]:
    return lambda e: (e["entity"], e["action"], e["data"].get("name")) == (entity, action, model)


def run_webhook(model: str, url: str, tmp_path: Path, *extra: str):
    out = tmp_path / f"out-{uuid.uuid4().hex}"
    env = {"MLOPS_WEBHOOK_SECRET": SECRET, "GITHUB_OUTPUT": str(out)}
    result = cli("webhook", "--model-name", model, "--url", url, *extra, env=env)
    assert SECRET not in result.stdout + result.stderr
    return result, outputs(out) if out.exists() else {}


@pytest.mark.server
def test_an_alias_move_reaches_the_team_signed(mlflow_server, logged, receiver, tmp_path):
    from mlflow import MlflowClient

    model = f"webhook-{uuid.uuid4().hex[:8]}"
    first, made = run_webhook(model, receiver.url, tmp_path)
    assert first.returncode == 0, first.stderr
    assert made["status"] == "created" and made["webhook-id"]
    assert "127.0.0.1" in first.stdout and "/hooks/mlflow" not in first.stdout  # host only
    client = MlflowClient(mlflow_server.uri)
    try:
        # Again, through the composite action: the same webhook, updated, not a second one.
        again, output = run_composite(
            REPO / "actions" / "webhook",
            {"model-name": model, "url": receiver.url, "install": "false"}
            | {"python": sys.executable},
            tmp_path,
            {"PYTHONPATH": str(ACTIONS_SRC), "MLOPS_WEBHOOK_SECRET": SECRET},
        )
        assert again.returncode == 0, again.stderr
        assert SECRET not in again.stdout + again.stderr
        assert outputs(output) == {"status": "updated", "webhook-id": made["webhook-id"]}
        name = webhooks.webhook_name(model)
        assert [h.webhook_id for h in client.list_webhooks() if h.name == name] == [
            made["webhook-id"]
        ]
        time.sleep(1.5)  # the server's webhook list is cached for a second (conftest)

        version = register_version(model, logged["good"][1])
        created = receiver.wait(about(model, "model_version", "created"))
        assert webhooks.verify(created.body, created.headers, SECRET, model=model)["data"][
            "version"
        ] == str(version)

        moved = cli("set-alias", "--model-name", model, "--version", version, "--alias", "staging")
        assert moved.returncode == 0, moved.stderr
        delivery = receiver.wait(about(model, "model_version_alias", "created"))
        event = webhooks.verify(delivery.body, delivery.headers, SECRET, model=model)
        assert event["data"] == {"name": model, "alias": "staging", "version": str(version)}

        with pytest.raises(webhooks.DeliveryRejected, match="signature"):
            webhooks.verify(delivery.body, delivery.headers, SECRET + "x")
        forged = delivery.body.replace(b'"staging"', b'"production"')
        with pytest.raises(webhooks.DeliveryRejected, match="signature"):
            webhooks.verify(forged, delivery.headers, SECRET)
        with pytest.raises(webhooks.DeliveryRejected, match="old"):
            webhooks.verify(delivery.body, delivery.headers, SECRET, now=time.time() + 3600)
        with pytest.raises(webhooks.DeliveryRejected, match="another model"):
            webhooks.verify(delivery.body, delivery.headers, SECRET, model=model + "-other")

        client.delete_registered_model_alias(model, "staging")
        gone = receiver.wait(about(model, "model_version_alias", "deleted"))
        assert webhooks.verify(gone.body, gone.headers, SECRET)["data"]["alias"] == "staging"
    finally:
        client.delete_webhook(made["webhook-id"])


# --- without a server that has webhooks, and the receiving side on its own ----------------


class OldServer:
    """An MLflow server from before webhooks (< 3.3): healthy, reads experiments, and answers
    404 on /api/2.0/mlflow/webhooks. (Only 3.17 installs here: a loopback stand-in.)"""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = self.path.split("?")[0] in ("/health", _AUTH_PROBE.split("?")[0])
                self.send_response(200 if ok else 404)
                self.send_header("Content-Type", "application/json" if ok else "text/html")
                self.end_headers()
                self.wfile.write(b"{}" if ok else b"<h1>Not Found</h1>")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def old_server() -> Iterator[OldServer]:
    server = OldServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_a_server_without_webhooks_is_one_line_or_a_warning(
    old_server, tmp_path, monkeypatch, capsys
):
    """In process (MLflow is imported already: two subprocesses would import it twice)."""
    from mlops_toolkit import cli as toolkit_cli

    monkeypatch.setenv("MLFLOW_TRACKING_URI", old_server.uri)
    monkeypatch.setenv("MLOPS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    args = ["webhook", "--model-name", "m", "--url", "https://hooks.example.com/T0/SECRETPATH"]
    assert toolkit_cli.main(args) == 1
    failed = capsys.readouterr()
    lines = failed.err.strip().splitlines()
    assert len(lines) == 1 and "does not support registry webhooks" in lines[0], failed.err
    assert "no webhooks API (HTTP 404)" in lines[0]
    assert "SECRETPATH" not in failed.err + failed.out and SECRET not in failed.err + failed.out
    assert toolkit_cli.main([*args, "--skip-unsupported"]) == 0
    skipped = capsys.readouterr()
    assert "warning" in skipped.err and SECRET not in skipped.err + skipped.out
    assert outputs(tmp_path / "out")["status"] == "unsupported"


def test_a_file_store_has_no_webhooks(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    with pytest.raises(webhooks.WebhooksUnsupported, match="its store does not support webhooks"):
        webhooks.ensure(client, "m", "https://hooks.example.com/x", SECRET)


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ([], {"MLOPS_WEBHOOK_SECRET": SECRET}, "no webhook URL"),
        (["--url", "ftp://x"], {"MLOPS_WEBHOOK_SECRET": SECRET}, "http(s) URL"),
        (["--url", "https://h/x"], {"MLOPS_WEBHOOK_SECRET": ""}, "MLOPS_WEBHOOK_SECRET is empty"),
        (["--url", "https://h/x"], {"MLOPS_WEBHOOK_SECRET": "short"}, "shorter than"),
        (
            ["--url", "https://h/x", "--events", "model_version.moved"],
            {"MLOPS_WEBHOOK_SECRET": SECRET},
            "unknown webhook event(s) model_version.moved",
        ),
    ],
)
def test_bad_input_is_one_line(args, env, says, monkeypatch):
    monkeypatch.delenv("MLOPS_WEBHOOK_URL", raising=False)
    result = cli("webhook", "--model-name", "m", *args, env=env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
    assert SECRET not in result.stderr


def test_verify_accepts_what_mlflow_signs():
    """The receiver's check against MLflow's own signing code (mlflow.webhooks.delivery)."""
    from mlflow.webhooks.delivery import _generate_hmac_signature

    body = json.dumps({"entity": "model_version_alias", "action": "created", "data": {}})
    stamp = str(int(time.time()))
    headers = {
        "x-mlflow-delivery-id": "d-1",  # any case
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": _generate_hmac_signature(SECRET, "d-1", stamp, body),
    }
    assert webhooks.verify(body.encode(), headers, SECRET)["action"] == "created"
    with pytest.raises(webhooks.DeliveryRejected, match="unsigned"):
        webhooks.verify(body.encode(), {"X-MLflow-Timestamp": stamp}, SECRET)


@pytest.mark.parametrize("model", ["churn", "Churn Model/v2 (ß)", "x" * 200])
def test_webhook_names_follow_mlflows_rule(model):
    from mlflow.utils.validation import _validate_webhook_name

    name = webhooks.webhook_name(model)
    _validate_webhook_name(name)
    assert name == webhooks.webhook_name(model) and name != webhooks.webhook_name(model + "2")
