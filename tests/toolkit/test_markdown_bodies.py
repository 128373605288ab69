"""The Markdown the toolkit writes from templates beside the modules that render them: the
retrain and sweep pull requests' bodies, a registered version's description, the gate report's
responsible-AI section and doctor's table. Each test pins a whole rendering, byte for byte: the
templates replaced string building that wrote exactly these texts (cells escaped, one newline
at the end, blank lines where they were)."""

from __future__ import annotations

from pathlib import Path

from mlops_toolkit import names
from mlops_toolkit.checks.environment import Result
from mlops_toolkit.ci import report_checks, retrain_request
from mlops_toolkit.commands import doctor
from mlops_toolkit.registry import moves
from mlops_toolkit.tuning import propose
from mlops_toolkit.tuning.study import Outcome

RETRAIN_BODY = """\
<!-- mlops-toolkit:retrain -->
## Retrain churn

### The alert that caused it

| | |
|---|---|
| alert | ModelPerformanceDegradation |
| model version | 3 |
| summary | f1 \\| low *fast* |
| fingerprint | f00d |

### Data

- 2 labelled row(s) added to `data/churn.csv` (100 before; 3 labelled row(s) were in it already)
- labelled between 1970-01-01T00:00:00Z and 1970-01-02T00:00:00Z; scored between \
1970-01-01T01:00:00Z and ?
- new DVC version: `data/churn.csv.dvc`
- left empty in the new rows (not model inputs): `plan`

### Gate against production

> [!WARNING]
> The candidate did **not** pass the gate: merging will not release it (the release gates \
again). This pull request is a draft for the team to look at.

GATE | REPORT

Merging goes through the normal release: the candidate registered from this pull request is \
gated again against production, then staged and deployed.

Workflow run: https://gh/run/1
"""


def test_the_retrain_pull_requests_body():
    """An alert's empty field is left out, a `|` and a line break stay inside their cell."""
    alert = {
        "alert": "ModelPerformanceDegradation",
        "model_version": "3",
        "severity": "",
        "summary": "f1 | low\n  *fast*",
        "fingerprint": "f00d",
    }
    data = {
        "rows_added": 2,
        "data": "data/churn.csv",
        "rows_before": 100,
        "already": 3,
        "dvc_files": ["data/churn.csv.dvc"],
        "label_from": 0,
        "label_to": 86400,
        "scored_from": 3600,
        "left_empty": ["plan"],
    }
    text = retrain_request.body(
        model_name="churn",
        alert=alert,
        data=data,
        gate_report="GATE | REPORT\n",
        gate_passed=False,
        run_url="https://gh/run/1",
    )
    assert text == RETRAIN_BODY


def test_a_retrain_started_by_hand_says_so_and_passes_without_a_warning():
    data = {"rows_added": 0, "data": "d.csv", "dvc_files": []}
    text = retrain_request.body(
        model_name="m",
        alert={"reason": "new | labels"},
        data=data,
        gate_report="",
        gate_passed=True,
    )
    head, gate = text.split("### Gate against production\n\n")
    assert head.endswith(
        "## Retrain m\n\nStarted by hand (workflow_dispatch): new \\| labels\n\n### Data\n\n"
        "- 0 labelled row(s) added to `d.csv` (0 before; 0 labelled row(s) were in it already)\n"
        "- labelled between ? and ?; scored between ? and ?\n- new DVC version: \n\n"
    )
    assert gate.startswith("_No gate report: the job failed before the gate._\n\nMerging")
    assert gate.endswith("then staged and deployed.\n")


SWEEP_BODY = """\
<!-- mlops-toolkit:sweep -->
## Sweep `cancer *lr*`

The best trial's values, written into `model.params` of `params.yaml`:

| parameter | value |
|---|---|
| `C` | `0.5` |
| `class_weight` | `null` |
| `penalty` | `"l2"` |

- f1: 0.9123 (maximize), mean over the training split's cross-validation folds: the holdout \
was not used.
- Trials: 8 complete, 2 pruned.
- MLflow: parent run `0123456789abcdef`, one child run per trial.

This pull request trains and gates the model as any other: the gate against production decides.
"""


def test_the_sweep_pull_requests_body():
    """Parameters sorted by name, values as JSON, trials counted by state."""
    outcome = Outcome(
        study="cancer *lr*",
        storage="sweeps.journal",
        parent_run_id="0123456789abcdef",
        metric="f1",
        direction="maximize",
        best_value=0.912345,
        best_params={"penalty": "l2", "C": 0.5, "class_weight": None},
        best_trial=4,
        best_run_id=None,
        counts={"PRUNED": 2, "COMPLETE": 8},
    )
    assert propose.body(outcome, Path("params.yaml")) == SWEEP_BODY


DESCRIPTION = """\
Registered by the platform (mlops-toolkit register).

- **Model**: churn version 3, run `r1`
- **Code**: commit `bbbbbbbbbbbb`, pull request #17
- **Data version**: `md5:1234`
- **Gate**: failed (compare): f1 0.81 < 0.85
- **Passport**: `runs:/r1/passport` (gate failed)

| metric | value |
|---|---|
| accuracy | 0.9 |
| f1 | 0.81 |
"""


def test_the_versions_description():
    tags = {
        names.TAG_GIT_COMMIT: "b" * 40,
        names.TAG_PULL_REQUEST: "17",
        names.TAG_DATA_VERSION: "md5:1234",
        names.TAG_GATE_PASSED: "false",
        names.TAG_GATE_MODE: "compare",
        names.TAG_GATE_SUMMARY: "gate FAILED (compare): f1 0.81 < 0.85",
        names.TAG_METRIC_PREFIX + "f1": "0.81",
        names.TAG_METRIC_PREFIX + "accuracy": "0.9",
        "unrelated": "left out",
    }
    passport = ["- **Passport**: `runs:/r1/passport` (gate failed)"]
    assert moves.description("churn", "3", tags, "r1", passport) == DESCRIPTION
    bare = moves.description("churn", "3", {}, None)
    assert bare.endswith(
        "run `unknown`\n- **Code**: commit not recorded\n- **Data version**: `not recorded`\n"
        "- **Gate**: not judged at registration\n"
    )


RESPONSIBLE = """\

### Responsible-AI checks

**FAILED:** sex = F \\| M: gap 0.21

| slice | rows | metric | value | 90% CI |
|---|---:|---|---:|---:|
| sex = F\\|x | 1,234 | f1 | 0.5000 | [0.4000, 0.6000] |
| sex = * | 5 (not judged) | f1 | n/a | n/a |

- a \\| note
"""


def test_the_gate_reports_responsible_ai_section():
    """Only the failed rules are named; a slice too small to judge says so."""
    checks = [
        {"name": "slice gap", "passed": False, "detail": "sex = F | M: gap 0.21"},
        {"name": "robustness", "passed": True, "detail": ""},
    ]
    slices = [
        {"column": "sex", "slice": "F|x", "rows": 1234, "metric": "f1", "value": 0.5}
        | {"ci": [0.4, 0.6], "judged": True},
        {"column": "sex", "slice": "*", "rows": 5, "metric": "f1", "value": None}
        | {"ci": None, "judged": False},
    ]
    verdict = {
        "bootstrap": {"confidence": 0.9},
        "responsible": {"checks": checks, "slices": slices, "notes": ["a | note"]},
    }
    assert report_checks.section(verdict) == RESPONSIBLE
    assert report_checks.section({"responsible": None}) == ""
    empty = {"responsible": {"checks": [], "slices": [], "notes": []}}
    assert report_checks.section(empty) == "\n### Responsible-AI checks\n\n"


def test_doctors_table():
    """No newline at the end: print() and the job summary add their own."""
    results = [
        Result("tracking store", "ok", "http://x | y\nz"),
        Result("gpu", "skip", "none", required=False),
    ]
    assert doctor.render(results) == (
        "| check | status | required | detail |\n|---|---|---|---|\n"
        "| tracking store | ok | yes | http://x \\| y z |\n| gpu | skip | no | none |"
    )
