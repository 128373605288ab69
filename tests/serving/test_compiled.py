"""The mixed-type path: a generated project's preprocessing replayed on typed arrays, exactly.

The model is built with the template's own preprocessing module (models/features.py, loaded by
path) on palmerpenguins: strings, a yes/no column, missing values in numbers and strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlops_toolkit.serving.compiled import CompiledModel
from mlops_toolkit.serving.model import load_for_serving
from mlops_toolkit.serving.payload import parse_payload
from support.project import template_features

from serving.test_server import _serve

ROLES = {
    "numeric": ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"],
    "categorical": ["island"],
    "boolean": ["sex"],
    "date": [],
}


def _save(model: Any, X: pd.DataFrame, path: Path, **kwargs: Any) -> Path:
    import mlflow
    import sklearn
    from mlflow.models import infer_signature

    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(X, model.predict(X.head(5))),
        input_example=X.head(5),
        **{"pip_requirements": [f"scikit-learn=={sklearn.__version__}"], **kwargs},
    )
    return path


def _records(X: pd.DataFrame) -> list[dict[str, Any]]:
    return X.astype(object).where(X.notna(), None).to_dict(orient="records")


@pytest.fixture(scope="module")
def penguins(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, pd.DataFrame]:
    from palmerpenguins import load_penguins
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    features = template_features()
    frame = load_penguins()
    X = frame[[*ROLES["numeric"], *ROLES["categorical"], *ROLES["boolean"]]]
    preprocess = features.build_preprocessor(ROLES, scale=True, impute=True)
    model = Pipeline([("preprocess", preprocess), ("model", LogisticRegression(max_iter=1000))])
    model.fit(X, frame["species"])
    path = tmp_path_factory.mktemp("penguins") / "model"
    _save(model, X, path, serialization_format="skops", skops_trusted_types=["numpy.dtype"])
    return path, model, X


def test_the_projects_preprocessing_is_replayed_exactly_on_typed_arrays(penguins) -> None:
    model_dir, pipeline, X = penguins
    served = load_for_serving(str(model_dir))
    assert isinstance(served, CompiledModel) and not served.use_frame
    rows = X.copy()
    rows["island"] = rows["island"].where(rows.index % 7 != 0, "Atlantis")  # unseen
    assert rows.isna().any(axis=None) and (rows["island"] == "Atlantis").any()
    batch = parse_payload({"dataframe_records": _records(rows)}, served.columns)
    expected = pipeline[0].transform(rows)
    assert np.array_equal(served.transform(batch.columns, batch.n_rows), expected, equal_nan=True)
    assert served.predict(batch) == pipeline.predict(rows).tolist()


def test_over_http_a_lone_null_scores_as_it_does_among_other_rows(penguins) -> None:
    """One row whose sex is null: its missing category, as in training, not an unseen value."""
    model_dir, pipeline, X = penguins
    lone = X[X["sex"].isna() & X["bill_length_mm"].notna()].head(1)
    assert len(lone) == 1
    with _serve(model_dir) as server:
        server.wait_ready()
        status, body = server.post({"dataframe_records": _records(lone)})
        status_all, body_all = server.post({"dataframe_records": _records(X)})
    assert status == status_all == 200, (body, body_all)
    assert body_all["predictions"] == pipeline.predict(X).tolist()
    assert body["predictions"] == [body_all["predictions"][X.index.get_loc(lone.index[0])]]
    served = load_for_serving(str(model_dir))
    one = parse_payload({"dataframe_records": _records(lone)}, served.columns)
    in_context = pipeline[0].transform(pd.concat([lone, X]))[:1]
    assert np.array_equal(served.transform(one.columns, 1), in_context)


def _string_length(frame: Any) -> Any:
    return frame.apply(lambda column: column.fillna("").str.len()).to_numpy(dtype=float)


def ordinal() -> Any:
    from sklearn.preprocessing import OrdinalEncoder

    return OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2
    )


def test_other_transformers_are_called_and_other_pipelines_keep_the_dataframe(
    penguins, tmp_path: Path
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    _, _, X = penguins
    y = (X["body_mass_g"].fillna(4000) > 4000).astype(int)
    mixed = ColumnTransformer(
        [
            ("length", FunctionTransformer(_string_length), ["island"]),
            (
                "ordinal",
                ordinal(),
                ["sex"],
            ),
            ("numbers", "passthrough", ["year"]),
        ]
    )
    model = make_pipeline(mixed, LogisticRegression(max_iter=1000)).fit(X, y)
    served = load_for_serving(
        str(_save(model, X, tmp_path / "called", serialization_format="cloudpickle"))
    )
    assert isinstance(served, CompiledModel)
    batch = parse_payload({"dataframe_records": _records(X)}, served.columns)
    assert served.predict(batch) == model.predict(X).tolist()

    # No ColumnTransformer first: nothing to replay, the DataFrame path as before.
    encoded = make_pipeline(ordinal(), LogisticRegression(max_iter=1000))
    encoded.fit(X[["island", "sex"]], y)
    path = _save(
        encoded, X[["island", "sex"]], tmp_path / "plain", serialization_format="cloudpickle"
    )
    plain = load_for_serving(str(path))
    assert not isinstance(plain, CompiledModel) and plain.use_frame


@pytest.fixture(scope="module")
def dated(penguins, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, pd.DataFrame]:
    """The penguins with a required date column, through the template's own date step."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    features = template_features()
    _, _, X = penguins
    X = X.copy()
    days = pd.date_range("2023-01-01", periods=len(X), freq="37h")
    X["seen"] = days.strftime("%Y-%m-%dT%H:%M:%S").astype(object)
    y = (X["seen"].str[5:7].astype(int) > 6).astype(int)  # the month decides: dates matter
    roles = {**ROLES, "date": ["seen"]}
    preprocess = features.build_preprocessor(roles, scale=True, impute=True)
    model = Pipeline([("preprocess", preprocess), ("model", LogisticRegression(max_iter=1000))])
    model.fit(X, y)
    path = tmp_path_factory.mktemp("dated") / "model"
    _save(model, X, path, serialization_format="cloudpickle")
    return path, model, X


def test_a_value_that_is_not_a_date_is_422_naming_column_and_row(dated) -> None:
    model_dir, _, X = dated
    rows = _records(X.head(3))
    rows[1]["seen"] = "31/02/2024 or so"
    with _serve(model_dir) as server:
        server.wait_ready()
        status, body = server.post({"dataframe_records": rows})
        rows[1]["seen"] = ""
        empty_status, empty = server.post({"dataframe_records": rows})
    assert status == 422, body
    assert "'seen'" in body["message"] and "row 1" in body["message"], body
    assert "31/02/2024" in body["message"]
    assert empty_status == 422 and "row 1" in empty["message"], empty


def test_mixed_time_zones_score_each_row_at_its_own_wall_clock_time(dated) -> None:
    """pandas refuses a column of mixed offsets (a 422 before); each row now scores as alone."""
    model_dir, pipeline, X = dated
    rows = X.head(2).copy()
    rows["seen"] = ["2024-06-30T23:30:00+02:00", "2024-07-01T01:00:00-05:00"]
    with _serve(model_dir) as server:
        server.wait_ready()
        status, body = server.post({"dataframe_records": _records(rows)})
        alone = [server.post({"dataframe_records": _records(rows.iloc[[i]])}) for i in (0, 1)]
    assert status == 200, body
    assert [a[0] for a in alone] == [200, 200], alone
    assert body["predictions"] == [a[1]["predictions"][0] for a in alone]
    wall = rows.assign(seen=["2024-06-30T23:30:00", "2024-07-01T01:00:00"])
    assert body["predictions"] == pipeline.predict(wall).tolist()
