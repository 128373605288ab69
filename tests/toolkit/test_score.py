"""`score`: batch scoring with the model behind `production`, against a real MLflow server.

The model is a generated project's own Pipeline (the template's models/features.py, loaded by
path) on vega_datasets' cars: strings (the make), missing values (horsepower, miles per gallon),
dates (the model year), integers (cylinders, weight), three classes (the origin). It is logged
and registered on the session's MLflow server and `production` points at it. Answers are checked
against the scoring server's own request path, row for row.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlops_toolkit import cli
from support import cars as support_cars
from support.cars import FEATURE_NAMES, TARGET, fitted_pipeline


def cars() -> pd.DataFrame:
    """The cars with an id column, as the tests score them."""
    frame = support_cars.cars()
    frame.insert(0, "car_id", [f"car-{i:04d}" for i in range(len(frame))])
    return frame


@pytest.fixture(scope="module")
def registered(mlflow_server) -> dict[str, Any]:
    """The Pipeline registered as version 1 behind `production`; a second model without it."""
    import mlflow
    import sklearn
    from mlflow.models import infer_signature

    frame = cars()
    X = frame[FEATURE_NAMES]
    pipeline = fitted_pipeline(frame)
    name = f"score-{uuid.uuid4().hex[:8]}"
    mlflow.set_experiment("score-tests")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            # By value: the date step's module is loaded by path, not installed.
            serialization_format="cloudpickle",
            signature=infer_signature(X, pipeline.predict(X.head())),
            input_example=X.head(5),
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        )
    client = mlflow.MlflowClient()
    version = mlflow.register_model(info.model_uri, name).version
    client.set_registered_model_alias(name, "production", version)
    unpromoted = f"{name}-unpromoted"
    mlflow.register_model(info.model_uri, unpromoted)
    return {
        "name": name,
        "version": str(version),
        "unpromoted": unpromoted,
        "pipeline": pipeline,
        "frame": frame,
        "model_uri": info.model_uri,
    }


@pytest.fixture(scope="module")
def served(registered, tmp_path_factory):
    """The scoring server's app on the same model (its request path, in-process)."""
    import mlflow
    from mlops_toolkit.serving.app import ScoringApp
    from mlops_toolkit.serving.model import load_for_serving
    from mlops_toolkit.serving.settings import Settings

    local = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{registered['name']}/{registered['version']}",
        dst_path=str(tmp_path_factory.mktemp("served")),
    )
    model = load_for_serving(local)
    return ScoringApp(Settings(model_dir=local), model=model), model


def server_answers(served, rows: pd.DataFrame) -> list[Any]:
    """What POST /invocations answers for these rows (JSON records, NaN sent as null)."""
    import orjson

    app, model = served
    records = rows[FEATURE_NAMES].astype(object).where(rows[FEATURE_NAMES].notna(), None)
    raw = orjson.dumps({"dataframe_records": records.to_dict(orient="records")})
    status, body, *_ = app._decode_and_predict(model, raw, False)
    assert status == 200, body
    return orjson.loads(body)["predictions"]


def score(tmp_path: Path, registered, data: Path, *extra: str, model: str = "") -> int:
    return cli.main(
        [
            "score",
            "--model-name",
            model or registered["name"],
            "--input",
            str(data),
            "--output",
            str(tmp_path / "out.parquet"),
            "--store",
            f"sqlite:///{tmp_path / 'store.sqlite3'}",
            "--no-progress",
            *extra,
        ]
    )


def stored_rows(tmp_path: Path) -> int:
    path = tmp_path / "store.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        try:
            return conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
        except sqlite3.OperationalError:  # no table: nothing was ever written
            return 0


def batch_rows(registered) -> pd.DataFrame:
    """Every car, plus rows a team's file has: an unseen make, missing optional numbers."""
    frame = registered["frame"].copy()
    odd = frame.head(3).copy()
    odd["car_id"] = ["odd-1", "odd-2", "odd-3"]
    odd["make"] = ["tesla", "chevrolet", "Chevrolet"]  # unseen: not one-hot, all zeros
    odd["Horsepower"] = [np.nan, 95.0, np.nan]
    odd["Miles_per_Gallon"] = [np.nan, np.nan, 31.5]
    return pd.concat([frame, odd], ignore_index=True)


# -- the answers -----------------------------------------------------------------------------
def test_batch_answers_are_the_servers_row_for_row_and_every_row_is_in_the_store(
    tmp_path, registered, served, capsys
):
    rows = batch_rows(registered)
    assert rows["Horsepower"].isna().any() and rows["Miles_per_Gallon"].isna().any()
    data = tmp_path / "cars.parquet"
    rows.to_parquet(data)
    # Small chunks: several chunks, the last one short, rows numbered across them.
    assert score(tmp_path, registered, data, "--chunk-rows", "97") == 0
    line = capsys.readouterr().out
    assert f"scored {len(rows)} rows" in line and f"version {registered['version']}" in line

    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out["car_id"]) == list(rows["car_id"])  # the id column found by its name
    assert out["prediction"].tolist() == server_answers(served, rows)
    classes = sorted(rows[TARGET].unique())
    proba = out[[f"probability_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(
        proba, registered["pipeline"].predict_proba(rows[FEATURE_NAMES]), rtol=1e-12
    )
    assert set(out["model_name"]) == {registered["name"]}
    assert set(out["model_version"]) == {registered["version"]}
    ids = out["prediction_id"]
    assert ids.is_unique and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)

    from mlops_toolkit.monitoring.store import open_store

    with open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}") as store:
        joined = store.read_joined(registered["name"], registered["version"])
    by_id = {j.prediction.prediction_id: j.prediction for j in joined}
    assert set(by_id) == set(ids)
    first = by_id[ids.iloc[-3]]  # the unseen make, missing horsepower
    assert first.inputs["make"] == "tesla" and first.inputs["Horsepower"] is None
    assert first.prediction == out["prediction"].iloc[-3]
    assert first.environment == "batch"
    assert first.scores == pytest.approx(dict(zip(classes, proba[-3], strict=True)))


def test_a_csv_scores_as_its_parquet_does(tmp_path, registered, served):
    rows = batch_rows(registered)
    rows.to_csv(tmp_path / "cars.csv", index=False)
    assert score(tmp_path, registered, tmp_path / "cars.csv", "--id-columns", "car_id,Name") == 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns[:2]) == ["car_id", "Name"]
    assert out["prediction"].tolist() == server_answers(served, rows)


def test_dates_written_as_dates_score_as_their_text(tmp_path, registered, served):
    rows = batch_rows(registered)
    typed = rows.assign(Year=pd.to_datetime(rows["Year"]))
    typed.to_parquet(tmp_path / "typed.parquet")
    assert score(tmp_path, registered, tmp_path / "typed.parquet", "--no-log") == 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["prediction"].tolist() == server_answers(served, rows)
    assert stored_rows(tmp_path) == 0  # --no-log


# -- bad input: one line, exit 1, nothing written --------------------------------------------
def _refused(tmp_path, registered, capsys, data: Path, *extra: str, model: str = "") -> str:
    code = score(tmp_path, registered, data, *extra, model=model)
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out.parquet").exists()
    assert not list(tmp_path.glob(".out.parquet.*")), "a temporary file was left behind"
    assert stored_rows(tmp_path) == 0
    return err


def test_a_missing_column_is_one_line(tmp_path, registered, capsys):
    batch_rows(registered).drop(columns=["make"]).to_parquet(tmp_path / "in.parquet")
    err = _refused(tmp_path, registered, capsys, tmp_path / "in.parquet")
    assert "lacks the model's required column(s): make" in err


def test_a_wrong_type_names_column_and_row_of_the_file(tmp_path, registered, capsys):
    rows = batch_rows(registered).astype({"Cylinders": object})
    rows.loc[250, "Cylinders"] = "eight"
    rows["Cylinders"] = rows["Cylinders"].astype(str)
    rows.to_parquet(tmp_path / "in.parquet")
    err = _refused(tmp_path, registered, capsys, tmp_path / "in.parquet")
    assert "column 'Cylinders' expects long, the file holds" in err and "row 0" in err


def test_a_bad_value_late_in_the_file_writes_nothing(tmp_path, registered, capsys):
    """A date that is not one in the fourth chunk: the rows scored before it go nowhere."""
    rows = batch_rows(registered)
    rows.loc[350, "Year"] = "31/02/1975 or so"
    rows.to_csv(tmp_path / "in.csv", index=False)
    err = _refused(tmp_path, registered, capsys, tmp_path / "in.csv", "--chunk-rows", "100")
    assert "'Year'" in err and "row 350" in err and "31/02/1975" in err


def test_a_store_failing_mid_file_is_one_line_and_writes_nothing(tmp_path, registered, capsys):
    """The store's writer thread fails on the third chunk (a real SQLite error, raised by a
    trigger as a full disk would be): the chunks it had written are rolled back, no output."""
    from mlops_toolkit.monitoring.store import open_store

    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with open_store(url):  # the tables, then the trigger beside them
        pass
    with sqlite3.connect(tmp_path / "store.sqlite3") as conn:
        conn.execute(
            "CREATE TRIGGER full BEFORE INSERT ON prediction_batches "
            "WHEN (SELECT count(*) FROM prediction_batches) >= 2 "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    batch_rows(registered).to_parquet(tmp_path / "in.parquet")
    err = _refused(tmp_path, registered, capsys, tmp_path / "in.parquet", "--chunk-rows", "100")
    assert "cannot write predictions: database or disk is full" in err


def test_a_wrong_type_in_a_csv_is_one_line(tmp_path, registered, capsys):
    rows = batch_rows(registered)
    rows["Weight_in_lbs"] = rows["Weight_in_lbs"].astype(object)
    rows.loc[5, "Weight_in_lbs"] = "heavy"
    rows.to_csv(tmp_path / "in.csv", index=False)
    err = _refused(tmp_path, registered, capsys, tmp_path / "in.csv")
    assert "Weight_in_lbs" in err and "heavy" in err


@pytest.mark.parametrize("kind", ["csv", "parquet", "bytes"])
def test_an_empty_file_is_one_line(tmp_path, registered, capsys, kind):
    rows = batch_rows(registered).head(0)
    data = tmp_path / f"in.{'csv' if kind != 'parquet' else 'parquet'}"
    if kind == "csv":
        rows.to_csv(data, index=False)  # the header alone
    elif kind == "parquet":
        rows.to_parquet(data)
    else:
        data.write_bytes(b"")
    err = _refused(tmp_path, registered, capsys, data)
    assert "is empty: no rows to score" in err


def test_a_model_without_production_is_one_line(tmp_path, registered, capsys):
    batch_rows(registered).to_parquet(tmp_path / "in.parquet")
    err = _refused(
        tmp_path, registered, capsys, tmp_path / "in.parquet", model=registered["unpromoted"]
    )
    assert "has no version with alias 'production'" in err


def test_a_missing_required_value_names_the_row(tmp_path, registered, capsys):
    rows = batch_rows(registered)
    rows.loc[123, "Weight_in_lbs"] = None
    pq.write_table(pa.Table.from_pandas(rows), tmp_path / "in.parquet")
    err = _refused(tmp_path, registered, capsys, tmp_path / "in.parquet", "--chunk-rows", "50")
    assert "column 'Weight_in_lbs' is required, row 123 has no value" in err


# -- other models, other sources -------------------------------------------------------------
def test_a_numeric_model_scores_through_the_matrix_path_as_the_server(
    tmp_path, mlflow_server, logged, holdout_csv
):
    """The session's breast-cancer Pipeline (30 float columns: the server's ndarray path), its
    holdout as CSV with the target beside the features (ignored); without probabilities the
    command makes the server's own `predict` call."""
    import mlflow
    import orjson
    from mlops_toolkit.serving.app import ScoringApp
    from mlops_toolkit.serving.model import load_for_serving
    from mlops_toolkit.serving.settings import Settings

    name = f"score-numeric-{uuid.uuid4().hex[:8]}"
    version = mlflow.register_model(logged["good"][1], name).version
    mlflow.MlflowClient().set_registered_model_alias(name, "production", version)
    registered = {"name": name}
    assert score(tmp_path, registered, holdout_csv, "--no-probabilities") == 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert [c for c in out.columns if c.startswith("probability_")] == []

    local = mlflow.artifacts.download_artifacts(f"models:/{name}/{version}", dst_path=tmp_path)
    model = load_for_serving(local)
    assert not model.use_frame  # the matrix path
    holdout = pd.read_csv(holdout_csv).drop(columns=["target"])
    raw = orjson.dumps({"dataframe_split": holdout.to_dict(orient="split") | {"index": None}})
    status, body, *_ = ScoringApp(Settings(model_dir=local), model=model)._decode_and_predict(
        model, raw, False
    )
    assert status == 200 and out["prediction"].tolist() == orjson.loads(body)["predictions"]
    assert len(out) == stored_rows(tmp_path) == len(holdout)


def test_a_dvc_tracked_file_missing_from_the_checkout_is_pulled(
    tmp_path, registered, served, monkeypatch
):
    """`dvc add` + `dvc push` to a local remote, then the file and DVC's cache removed, as on a
    fresh CI checkout: `score` pulls that one path and scores it."""
    import shutil
    import subprocess
    import sys

    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    rows = batch_rows(registered)
    rows.to_parquet(project / "data" / "batch.parquet")

    def dvc(*args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "dvc", *args], cwd=project, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr

    dvc("init", "--no-scm", "-q")
    dvc("remote", "add", "-d", "storage", str(tmp_path / "remote"))
    dvc("add", "-q", "data/batch.parquet")
    dvc("push", "-q")
    (project / "data" / "batch.parquet").unlink()
    shutil.rmtree(project / ".dvc" / "cache")
    monkeypatch.chdir(project)
    assert score(tmp_path, registered, Path("data/batch.parquet"), "--no-log") == 0
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["prediction"].tolist() == server_answers(served, rows)
