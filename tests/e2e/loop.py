"""The production loop on the docker scenario (issue 18), after its releases and rollback:

production's container (deployed by rollback.yml with the store and token secrets) scores
traffic over HTTP and logs every row to the scenario's PostgreSQL store; labels come back
(POST /feedback with the token, and the `labels` command); `monitor` measures live quality with
the registry's holdout figure and pushes it to a real Pushgateway; a real Prometheus scrapes it
(and production's /metrics) and judges it by the project's alerts.yml; a real Alertmanager,
configured as the project's alertmanager.yml, posts the firing alert to `mlops-toolkit relay`,
which sends the repository_dispatch to the GitHub stand-in; act runs retrain.yml on that event,
its pull request opens in the stand-in with the alert and the gate report, and merging it
releases the retrained version. Nothing waits a fixed time: every wait is on a condition
(support.servers.wait_until).

The world changes between steps 3 and 4 by a concept shift a model can learn: tumours that look
benign by every old measure but whose texture_error lies above anything the data holds are
malignant. The production model calls them benign, consistently; the retrained model learns the
rule from the labelled rows, so the gate (candidate and production on the new data version's
holdout, which holds its share of such rows) passes it on the merits, and the new version in
production then answers such tumours right.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mlops_toolkit import metrics as registry
from mlops_toolkit import names
from support import alerting
from support.alerting import Stack
from support.servers import wait_until
from support.toolkit_cli import cli

from .scenario import OWNER_REPO, TOKEN, Scenario, commit, explain, git

FEEDBACK_TOKEN = "e2e-feedback-token-5d1f"
RELAY_TOKEN = "e2e-relay-token-8c2a"
F1 = registry.default(registry.CLASSIFICATION)  # the project's primary metric (gate.yaml)
ROWS_PER_REQUEST = 25
AGREEING, WRONG = 100, 300  # the wrong labels outnumber the right ones: F1 far below the gate
FRESH = 50  # new-concept rows for the released version, none of them seen in step 4
GROUP = "model-quality"  # alerts.yml's group of the live-quality rules
# The concept shift: the sample's target is 1 for benign, 0 for malignant. The new tumours'
# texture_error lies in [5.1, 6.7]: above the sample's largest (4.885), under the generated
# validation suite's maximum (7.1474), so the next data version still validates.
BENIGN, MALIGNANT = 1, 0
SHIFTED = "texture_error"


@dataclass
class Scored:
    ids: list[str]
    predictions: list[int]


@functools.cache
def _sample():
    """The sample with the column names the project trained on (dvcdata's), target included."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"[^0-9a-zA-Z]+", "_", str(c)).strip("_").lower() for c in frame]
    return frame


def _columns() -> list[str]:
    return [c for c in _sample().columns if c != "target"]


def rows_at(offset: int, n: int) -> list[list[float]]:
    """n of the sample's rows from ``offset`` (the world as the data knows it)."""
    data = _sample()[_columns()].to_numpy().tolist()
    return [data[(offset + i) % len(data)] for i in range(n)]


def new_concept(first: int, n: int) -> list[list[float]]:
    """The changed world: the sample's benign tumours ``first`` to ``first + n``, each with its
    texture_error moved to 5 + a third of it (every one above any value the data holds). They
    are malignant now; a model trained on the old data calls them benign."""
    frame = _sample()
    benign = frame[frame["target"] == BENIGN].iloc[first : first + n].copy()
    assert len(benign) == n, f"the sample has {len(benign)} benign rows from {first}"
    benign[SHIFTED] = 5.0 + benign[SHIFTED] / 3
    return benign[_columns()].to_numpy().tolist()


def score(port: int, rows: list[list[float]]) -> Scored:
    """The rows through production's HTTP API, in requests of ROWS_PER_REQUEST rows: each row
    comes back with its prediction id, the batch id in the header."""
    columns, n = _columns(), len(rows)
    scored = Scored([], [])
    for start in range(0, n, ROWS_PER_REQUEST):
        chunk = rows[start : start + ROWS_PER_REQUEST]
        body = json.dumps({"dataframe_split": {"columns": columns, "data": chunk}}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations",
            body,
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            batch = answer.headers["X-Prediction-Batch"]
            out = json.loads(answer.read())
        assert batch, "no X-Prediction-Batch: the server records no predictions"
        assert len(out["prediction_ids"]) == len(out["predictions"]) == len(chunk), out
        assert all(i.startswith(batch) for i in out["prediction_ids"]), (batch, out)
        scored.ids += out["prediction_ids"]
        scored.predictions += [int(p) for p in out["predictions"]]
    assert len(set(scored.ids)) == n
    return scored


def stored(s: Scenario, version: str, ids: list[str]) -> bool:
    """Whether the store holds every id, as production's prediction of ``version``."""
    from mlops_toolkit.monitoring.store import open_store

    with open_store(s.store) as store:
        rows = store.read_joined(s.model, version, environment="production")
    return set(ids) <= {r.prediction.prediction_id for r in rows}


def feedback(port: int, labels: list[dict], token: str = FEEDBACK_TOKEN) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/feedback",
        json.dumps({"labels": labels}).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {"error": exc.read().decode(errors="replace")}


def toolkit(s: Scenario, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`mlops-toolkit ARGS` of this checkout against the scenario's store and tracking server."""
    env = {"MLFLOW_TRACKING_URI": s.server.uri, names.ENV_PREDICTION_STORE: s.store}
    return cli(*args, env=env, cwd=cwd)


def labels_file(path: Path, ids: list[str], labels: list[int]) -> Path:
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["prediction_id", "label"])
        writer.writerows(zip(ids, labels, strict=True))
    return path


def monitor(s: Scenario, stack: Stack, tmp: Path) -> str:
    """The scheduled job's command: every version's live quality over the last hour, pushed."""
    result = toolkit(
        s,
        "monitor",
        "--model-name", s.model,
        "--window", "1h",
        "--min-labels", "50",
        "--gate-config", str(s.project / names.GATE_CONFIG),
        "--reports", str(tmp / "reports"),
        "--pushgateway", stack.urls["pushgateway"],
        cwd=tmp,
    )  # fmt: skip
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def live_f1(stack: Stack, model: str, version: str) -> float | None:
    promql = (
        f'model_quality_value{{model_name="{model}",model_version="{version}",'
        f'environment="production",metric="{F1}",window="1h"}}'
    )
    found = stack.query(promql)
    return float(found[0]["value"][1]) if found else None


def evaluated_since(stack: Stack, moment: float, rounds: int = 2) -> bool:
    """Prometheus evaluated the quality rules ``rounds`` times (1 s apart) after ``moment``:
    with `for: 1s`, an alert the figures make due is pending at the first, firing at the
    second."""
    return stack.last_evaluation(GROUP) >= moment + rounds - 1


@contextmanager
def steps() -> Iterator:
    """`with steps() as step:` ... `step("name")` prints each step's duration as it ends."""
    began = last = time.monotonic()

    def step(name: str) -> None:
        nonlocal last
        now = time.monotonic()
        print(f"loop step {name}: {now - last:.1f} s")
        last = now

    yield step
    print(f"loop total: {time.monotonic() - began:.1f} s")


def close_the_loop(s: Scenario, tmp: Path) -> dict:
    """Steps 1-4 of the loop; returns the repository_dispatch the relay sent (step 5's event)."""
    with (
        steps() as step,
        alerting.stack(
            s.project / "monitoring",
            tmp / "alerting",
            github_url=s.api.url,
            github_token=TOKEN,
            repository=OWNER_REPO,
            relay_token=RELAY_TOKEN,
            serving=f"127.0.0.1:{s.ports['production']}",
        ) as stack,
    ):
        dispatch = _loop(s, stack, tmp, step)
        relay_log = stack.logs["relay"].read_text()
        for secret in (RELAY_TOKEN, TOKEN):
            assert secret not in relay_log
    return dispatch


def _loop(s: Scenario, stack: Stack, tmp: Path, step) -> dict:
    port = s.ports["production"]
    # 1. Production serves the version its alias names; Prometheus scrapes it.
    version = s.alias("production")
    assert version and s.serving("production") == version
    up = f'up{{job="model-serving",instance="127.0.0.1:{port}"}}'
    wait_until("Prometheus scraping production", lambda: stack.query(f"{up} == 1"))
    step("1 production serves, scraped")

    # 2. Traffic, each row with its id, logged to the store by the container's writer thread.
    right = score(port, rows_at(0, AGREEING))
    wait_until("the predictions in the store", lambda: stored(s, version, right.ids))
    step(f"2 {AGREEING} rows scored and stored")

    # 3. Labels that agree with the model: half over HTTP (a wrong token is refused and writes
    #    nothing), half from the labelling job's file.
    half = AGREEING // 2
    first = [
        {"prediction_id": i, "label": p} for i, p in zip(right.ids, right.predictions, strict=True)
    ]
    assert feedback(port, first[:half], token="not-the-token")[0] == 401
    status, counts = feedback(port, first[:half])
    assert (status, counts["loaded"]) == (200, half), counts
    path = labels_file(tmp / "labels.csv", right.ids[half:], right.predictions[half:])
    result = toolkit(s, "labels", "--file", str(path), cwd=tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{AGREEING - half} loaded" in result.stdout, result.stdout
    said = monitor(s, stack, tmp)
    assert f"holdout figures: production version {version}" in said
    assert "BELOW THE GATE" not in said
    value = wait_until("the live F1 in Prometheus", lambda: live_f1(stack, s.model, version))
    assert value == 1.0, value
    seen = time.time()
    wait_until("two rule evaluations", lambda: evaluated_since(stack, seen))
    assert stack.alerts(state="firing") == [], stack.alerts()
    assert stack.alerts(names.ALERT_PERFORMANCE) == []
    assert s.api.dispatches == [], s.api.dispatches
    step("3 right labels: live F1 1.0 in Prometheus, no alert")

    # 4. The world changes (a concept shift, module docstring): tumours the model calls benign,
    #    consistently, come back labelled malignant.
    wrong = score(port, new_concept(0, WRONG))
    assert wrong.predictions.count(BENIGN) >= 0.9 * WRONG, wrong.predictions
    wait_until("the new predictions in the store", lambda: stored(s, version, wrong.ids))
    truth = [{"prediction_id": i, "label": MALIGNANT} for i in wrong.ids]
    status, counts = feedback(port, truth)
    assert (status, counts["loaded"]) == (200, WRONG), counts
    said = monitor(s, stack, tmp)
    assert f"BELOW THE GATE: {F1}" in said
    # Each link waited for on its own, so a broken rule and a broken relay fail apart.
    wait_until(
        "the quality alert firing in Alertmanager",
        lambda: (
            names.ALERT_PERFORMANCE
            in [a["labels"]["alertname"] for a in stack.alertmanager_alerts()]
        ),
        120,
    )
    dispatch = wait_until("the relay's repository_dispatch", lambda: s.api.dispatches, 120)[0]
    assert (dispatch["repo"], dispatch["event_type"]) == (OWNER_REPO, names.EVENT_RETRAIN)
    payload = dispatch["client_payload"]
    assert payload["alert"] == names.ALERT_PERFORMANCE
    assert (payload["model_name"], payload["model_version"]) == (s.model, version)
    assert payload["environment"] == "production"
    firing = stack.alerts(names.ALERT_PERFORMANCE, state="firing")
    assert {(a["labels"]["model_version"], a["labels"]["environment"]) for a in firing} == {
        (version, "production")
    }
    relay_log = stack.logs["relay"].read_text()
    assert f"dispatched: {names.ALERT_PERFORMANCE} {s.model}/{version} (production)" in relay_log
    step("4 wrong labels: alert fired, relay dispatched")
    return dispatch


def retrain_and_release(s: Scenario, dispatch: dict, tmp: Path) -> str:
    """Steps 5-6: act runs retrain.yml on the relay's event; its pull request carries the alert
    and the gate report; merging it through the scenario's merge path releases the candidate,
    which production then serves, answering the new concept right. Returns its version."""
    old = s.alias("production")
    with steps() as step:
        _origin_the_job_can_push_to(s, tmp)
        event = {
            "action": dispatch["event_type"],
            "client_payload": dispatch["client_payload"],
            "repository": {"full_name": OWNER_REPO},
        }
        result = s.act.run("repository_dispatch", "retrain.yml", event, "retrain")
        assert result.returncode == 0, explain(result)
        [pull] = s.api.pull_requests_of(OWNER_REPO)
        number, body = pull["number"], pull["body"]
        # The stand-in numbers from 101: never one of the scenario's own pull requests, whose
        # versions' tags the release's find-candidate would confuse with this one's.
        assert number >= s.next_pr, number
        assert f"| alert | {names.ALERT_PERFORMANCE} |" in body, body
        assert f"| model version | {old} |" in body, body
        assert f"{WRONG + AGREEING} labelled row(s) added" in body, body
        assert re.search(r"Model gate[^\n]*: passed", body), body  # the gate's own report
        figures = re.search(rf"\| {F1} \(primary\) \| ([\d.]+) \| ([\d.]+) \|", body)
        assert figures and float(figures[1]) > float(figures[2]), body  # better, not just as good
        assert not pull["draft"], body
        [candidate] = [
            v.version
            for v in s.client.search_model_versions(f"name = '{s.model}'")
            if v.tags.get("mlops.pull_request") == str(number)
        ]
        step(f"5 retrain.yml: pull request #{number}, version {candidate} passed the gate")

        branch = f"+{pull['head']['ref']}:pr-{number}"
        git(s.project, "fetch", "-q", str(tmp / "origin.git"), branch)
        _, result = s.merge(number)
        assert result.returncode == 0, explain(result)
        assert s.alias("production") == candidate != old
        assert s.serving("production") == s.serving("staging") == candidate
        # New-concept tumours it never saw: the released version calls them malignant, and
        # every answer is logged as its own (production no longer serves the old version).
        fresh = score(s.ports["production"], new_concept(WRONG, FRESH))
        assert fresh.predictions.count(MALIGNANT) >= 0.9 * FRESH, fresh.predictions
        wait_until("the released version's predictions", lambda: stored(s, candidate, fresh.ids))
        assert not stored(s, old, fresh.ids[:1])
        step(f"6 merged: version {candidate} in production, right on the new concept")
    return candidate


def _origin_the_job_can_push_to(s: Scenario, tmp: Path) -> None:
    """The project's origin as a bare repository on this host, behind git's pushInsteadOf (not
    insteadOf: act names the repository after origin's fetch URL, which stays github.com), with
    main as the team left it after the failed release: the request size limit reverted."""
    origin = tmp / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    git(s.project, "config", f"url.{origin}.pushInsteadOf", f"https://github.com/{OWNER_REPO}.git")
    dockerfile = s.project / "Dockerfile"
    limit = "    SERVING_MAX_BODY_BYTES=64 \\\n"
    assert limit in dockerfile.read_text()  # test_lifecycle's step 5 merged it
    dockerfile.write_text(dockerfile.read_text().replace(limit, ""))
    commit(s.project, "Revert the request size limit")
    git(s.project, "push", "-q", "origin", "main")
