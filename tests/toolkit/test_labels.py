"""`mlops-toolkit labels`: ground truth from CSV or Parquet into the prediction store."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from conftest import cli, outputs
from mlops_toolkit.monitoring.store import Prediction, new_ids, open_store

pytest_plugins = ["support.stores"]  # the store_url fixture: SQLite and PostgreSQL


def _logged(url: str, predictions: list) -> tuple[str, list[str]]:
    """`predictions` stored as one scored batch of a new model; its name and the ids."""
    model = f"churn-{uuid.uuid4().hex[:8]}"
    ids = new_ids(len(predictions))
    now = time.time()
    with open_store(url) as store:
        store.write_predictions(
            [
                Prediction(pid, model, "3", "production", now, {"tenure": i, "plan": "b"}, p)
                for i, (pid, p) in enumerate(zip(ids, predictions, strict=True))
            ]
        )
    return model, ids


def _csv(path: Path, rows: list[tuple[str, str]], header: str = "prediction_id,label") -> Path:
    path.write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows))
    return path


def _labels(url: str, path: Path, tmp_path: Path, **env: str):
    out = tmp_path / "github_output"
    out.write_text("")
    env = {"GITHUB_OUTPUT": str(out), **env}
    result = cli("labels", "--file", str(path), "--store", url, env=env)
    return result, outputs(out)


def test_a_csv_loads_once_and_again_changes_nothing(store_url, tmp_path) -> None:
    model, ids = _logged(store_url, [0, 1, 1])
    path = _csv(tmp_path / "labels.csv", [(ids[0], "0"), (ids[1], "0"), (ids[2], "1")])
    first, written = _labels(store_url, path, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "3 loaded, 0 unchanged, 0 updated" in first.stdout and written["loaded"] == "3"
    again, written = _labels(store_url, path, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "0 loaded, 3 unchanged, 0 updated" in again.stdout and written["unchanged"] == "3"
    with open_store(store_url) as store:
        assert [j.label for j in store.read_joined(model)] == [0, 0, 1]  # integers, as predicted


def test_parquet_with_string_classes_and_times(tmp_path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    model, ids = _logged(url, ["Adelie", "Gentoo"])
    path = tmp_path / "labels.parquet"
    table = {
        "prediction_id": ids,
        "label": ["Gentoo", "Gentoo"],
        "labelled_at": ["2026-01-02T03:04:05Z", "2026-01-03T00:00:00+00:00"],
    }
    pq.write_table(pa.table(table), path)
    result, _ = _labels(url, path, tmp_path)
    assert result.returncode == 0, result.stderr
    with open_store(url) as store:
        joined = store.read_joined(model)
    assert [j.label for j in joined] == ["Gentoo", "Gentoo"]
    assert joined[0].labelled_at == 1767323045.0


def test_a_regressors_whole_number_prediction_takes_any_number(tmp_path) -> None:
    """A regressor's prediction that happens to be whole (152.0, as a tree's leaf of integer
    targets gives) is a number: its true value 151.5 is a label, not the wrong type."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    model, ids = _logged(url, [152.0, 20.5, 1.0])
    path = _csv(tmp_path / "labels.csv", [(ids[0], "151.5"), (ids[1], "21"), (ids[2], "1")])
    result, _ = _labels(url, path, tmp_path)
    assert result.returncode == 0, result.stderr
    with open_store(url) as store:
        labels = [j.label for j in store.read_joined(model)]
    assert labels == [151.5, 21.0, 1.0] and all(isinstance(v, float) for v in labels)


@pytest.mark.parametrize(
    "problem, words",
    [
        ("unknown", "not in the store"),
        ("duplicate", "appear more than once"),
        ("wrong_type", "wrong type"),
        ("empty", "empty"),
        ("no_label_column", "no column 'label'"),
    ],
)
def test_bad_files_end_in_one_line_and_load_nothing(tmp_path, problem, words) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    model, ids = _logged(url, [1, 0])
    rows = {
        "unknown": [(ids[0], "1"), ("f" * 32, "0")],
        "duplicate": [(ids[0], "1"), (ids[1], "0"), (ids[0], "1")],
        "wrong_type": [(ids[0], "1"), (ids[1], "churned")],
        "empty": [(ids[0], "1"), (ids[1], "")],
        "no_label_column": [(ids[0], "1")],
    }[problem]
    header = "prediction_id,outcome" if problem == "no_label_column" else "prediction_id,label"
    result, written = _labels(url, _csv(tmp_path / "labels.csv", rows, header), tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr, lines
    assert written == {}
    with open_store(url) as store:
        assert not any(j.labelled for j in store.read_joined(model))


def test_every_kind_of_problem_gets_its_line_in_one_run(tmp_path) -> None:
    """Duplicates, unknown ids and a wrong type in one file: three annotations (and three
    lines in the failure log) in one run, exit 1, and the store as it was."""
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    model, ids = _logged(url, [1, 0, 1])
    before, _ = _labels(url, _csv(tmp_path / "before.csv", [(ids[2], "1")]), tmp_path)
    assert before.returncode == 0, before.stderr
    rows = [
        (ids[0], "1"),
        (ids[0], "1"),  # a duplicate
        ("f" * 32, "0"),  # not in the store
        (ids[1], "churned"),  # not an integer
        (ids[2], "0"),  # would correct the label above: must not
    ]
    failures = tmp_path / "failures.log"
    result, written = _labels(
        url,
        _csv(tmp_path / "labels.csv", rows),
        tmp_path,
        GITHUB_ACTIONS="true",
        MLOPS_FAILURE_LOG=str(failures),
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 3, lines
    assert all(line.startswith("::error title=mlops-toolkit labels::") for line in lines), lines
    expected = [
        ("appear more than once, in 2 rows", ids[0]),
        ("1 of 5 prediction id(s) are not in the store", "f" * 32),
        ("1 label(s) of the wrong type", f"{ids[1]} has 'churned'"),
    ]
    for line, (words, example) in zip(lines, expected, strict=True):
        assert words in line and example in line, line
    assert len(failures.read_text().splitlines()) == 3
    assert written == {}
    with open_store(url) as store:
        assert [j.label for j in store.read_joined(model)] == [None, None, 1]
