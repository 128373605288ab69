"""The mixed-type path without pandas: a fitted ColumnTransformer replayed on numpy arrays.

A model whose signature has string or optional columns (a generated project's Pipeline:
preprocessing step, then the estimator) would otherwise be scored by building a DataFrame and
running scikit-learn's ColumnTransformer on it, which costs ten times the model itself on small
batches (column selection, validation and dtype checks per transformer). Here the fitted state of
the common transformers (SimpleImputer, StandardScaler, OneHotEncoder, passthrough, drop) is read
once and applied with a few numpy operations per request, in the order scikit-learn applies it;
any other transformer (the date parts of the project's preprocessing, say) is still called, on a
DataFrame of its own columns only. The estimator gets the same matrix it would get from the
Pipeline.

Used only when it is exact: at load time both paths score the model's input example and variants
of it with every optional column missing and every string unseen, and must give the same matrix
and the same predictions; otherwise the server keeps the DataFrame path.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..registry.mlmodel import NUMERIC_TYPES, Batch, ServedModel

log = logging.getLogger(__name__)

Columns = dict[str, np.ndarray]
Step = Callable[[np.ndarray], np.ndarray]
# A value no training category can equal: the variant that checks unseen categories.
UNSEEN = "\x00unseen category\x00"
# From this many rows (a batch job's chunk) one-hot codes come from pandas and a sparse output is
# stacked block by block, with no dense copy to scan; below (a request), plain Python and numpy,
# which cost a few rows less. The exactness check scores both.
BATCH_ROWS = 1000


class Unsupported(Exception):
    """This Pipeline has a part the compiled path does not replay: serve through a DataFrame."""


class CompiledModel(ServedModel):
    """A ServedModel that transforms typed column arrays itself, then calls the estimator."""

    transform: Callable[[Columns, int], Any]
    rest: list[Any]  # the Pipeline's steps after the ColumnTransformer

    def predict(self, batch: Batch) -> list[Any]:
        X = self.transform(batch.columns, batch.n_rows)
        for step in self.rest[:-1]:
            X = step.transform(X)
        out = np.asarray(self.rest[-1].predict(X))
        return out.ravel().tolist() if out.ndim > 1 and out.shape[1] == 1 else out.tolist()


def compile_model(model: ServedModel) -> ServedModel:
    """The compiled model when it scores exactly as the DataFrame path does, else ``model``."""
    try:
        compiled = _compile(model)
        _check_exact(model, compiled)
    except Unsupported as exc:
        log.info("compiled mixed-type path not used: %s", exc)
        return model
    except Exception as exc:  # a surprise in a fitted object: the DataFrame path still works
        log.info("compiled mixed-type path not used: %s: %s", type(exc).__name__, exc)
        return model
    return compiled


def _compile(model: ServedModel) -> CompiledModel:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    pipeline = model.estimator
    if not isinstance(pipeline, Pipeline) or len(pipeline.steps) < 2:
        raise Unsupported("the model is not a Pipeline with a preprocessing step")
    first = pipeline.steps[0][1]
    if not isinstance(first, ColumnTransformer):
        raise Unsupported("the Pipeline does not start with a ColumnTransformer")
    if getattr(first, "_sklearn_output_config", {}).get("transform") not in (None, "default"):
        raise Unsupported("the ColumnTransformer outputs DataFrames")
    compiled = CompiledModel(
        estimator=model.estimator,
        columns=model.columns,
        numeric=model.numeric,
        use_frame=False,
        example=model.example,
        flavor=model.flavor,
    )
    compiled.transform = _column_transformer(first, {c.name: c.type for c in model.columns})
    compiled.rest = [step for _, step in pipeline.steps[1:] if step not in (None, "passthrough")]
    return compiled


def _column_transformer(ct: Any, types: dict[str, str]) -> Callable[[Columns, int], Any]:
    parts = []
    for name, transformer, selected in ct.transformers_:
        if (isinstance(transformer, str) and transformer == "drop") or _empty(selected):
            continue
        if not isinstance(selected, list) or not set(selected) <= set(types):
            raise Unsupported(f"transformer {name!r} selects columns other than by name")
        try:
            part = _transformer(transformer, {types[c] for c in selected})
        except Unsupported as exc:
            log.debug("transformer %r called as it is: %s", name, exc)
            part = _delegate(transformer)
        parts.append((selected, part))
    sparse = bool(getattr(ct, "sparse_output_", False))

    def transform(columns: Columns, n_rows: int) -> Any:
        blocks = [part(columns, selected, n_rows) for selected, part in parts]
        if not blocks:
            return np.empty((n_rows, 0))
        if sparse and n_rows >= BATCH_ROWS:  # as ColumnTransformer._hstack stacks them
            from scipy import sparse as sp

            return sp.hstack(blocks).tocsr()
        X = np.hstack([b.toarray() if hasattr(b, "toarray") else b for b in blocks])
        if sparse:  # a request's few rows: one scan of a small matrix, the same CSR matrix
            from scipy import sparse as sp

            return sp.csr_matrix(X)
        return X

    return transform


def _empty(selected: Any) -> bool:
    return isinstance(selected, list | tuple | np.ndarray) and len(selected) == 0


def _transformer(transformer: Any, types: set[str]) -> Callable[[Columns, list[str], int], Any]:
    """One transformer as a function of the typed columns it selects (of these types)."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    if isinstance(transformer, OneHotEncoder):
        if not types <= {"string", "boolean"}:
            raise Unsupported("one-hot encoding of numbers")
        return _one_hot(transformer)
    if not types <= NUMERIC_TYPES:  # the payload makes these float64 arrays, NaN for null
        raise Unsupported("a numeric transformer on strings or booleans")
    if isinstance(transformer, str) and transformer == "passthrough":
        return _numeric([])
    steps = transformer.steps if isinstance(transformer, Pipeline) else [("", transformer)]
    return _numeric([_numeric_step(step) for _, step in steps])


def _numeric(steps: list[Step]) -> Callable[[Columns, list[str], int], np.ndarray]:
    def run(columns: Columns, selected: list[str], n_rows: int) -> np.ndarray:
        values = [columns[name] for name in selected]
        X = np.column_stack(values) if values else np.empty((n_rows, 0))
        for step in steps:
            X = step(X)
        return X

    return run


def _numeric_step(step: Any) -> Step:
    """SimpleImputer and StandardScaler as scikit-learn apply them (same operations, same order)."""
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    if isinstance(step, SimpleImputer):
        statistics = np.asarray(step.statistics_, dtype=float)
        missing = step.missing_values
        plain = isinstance(missing, float) and math.isnan(missing)
        if not plain or step.add_indicator or np.isnan(statistics).any():
            raise Unsupported("an imputer with indicators, empty columns or a missing marker")
        return lambda X: np.where(np.isnan(X), statistics, X)
    if isinstance(step, StandardScaler):
        mean = step.mean_ if step.with_mean else None
        scale = step.scale_ if step.with_std else None

        def scaled(X: np.ndarray) -> np.ndarray:
            X = X.copy()
            if mean is not None:
                X -= mean
            if scale is not None:
                X /= scale
            return X

        return scaled
    raise Unsupported(f"{type(step).__name__} is not replayed")


def _one_hot(encoder: Any) -> Callable[[Columns, list[str], int], Any]:
    """One-hot columns; a missing value (None) is its own category if training saw one, an
    unseen value is all zeros (handle_unknown="ignore"). A request's few rows: a dense block
    from a dict lookup per value. A batch job's chunk (BATCH_ROWS and more): one hash lookup per
    column (pandas) and the encoder's own sparse matrix, milliseconds for 100,000 rows instead
    of a Python call per value, a dense matrix and a scan for its non-zeros."""
    if encoder.handle_unknown != "ignore" or getattr(encoder, "infrequent_categories_", None):
        raise Unsupported("a OneHotEncoder that errors on unknown or groups infrequent values")
    if np.dtype(encoder.dtype) != np.float64:
        raise Unsupported("a OneHotEncoder with an output type other than float64")
    drop = encoder.drop_idx_ if encoder.drop_idx_ is not None else [None] * len(encoder.categories_)
    lookups = [
        _Lookup(categories, dropped)
        for categories, dropped in zip(encoder.categories_, drop, strict=True)
    ]
    offsets = np.cumsum([0] + [lookup.width for lookup in lookups])

    def run(columns: Columns, selected: list[str], n_rows: int) -> Any:
        codes = np.empty((n_rows, len(lookups)), dtype=np.int64)
        for j, (name, lookup) in enumerate(zip(selected, lookups, strict=True)):
            codes[:, j] = lookup.codes(columns[name])
        found = codes >= 0
        indices = (codes + offsets[:-1])[found]  # row by row, features in order: sorted
        if n_rows < BATCH_ROWS:
            block = np.zeros((n_rows, int(offsets[-1])))
            block[np.nonzero(found)[0], indices] = 1.0
            return block
        from scipy import sparse as sp

        indptr = np.concatenate([[0], np.cumsum(found.sum(axis=1))])
        data = np.ones(len(indices))
        return sp.csr_matrix((data, indices, indptr), shape=(n_rows, int(offsets[-1])))

    return run


class _Lookup:
    """A feature's categories: value -> column, the column of missing values (-1: none), the
    number of columns, the dropped category left out."""

    def __init__(self, categories: np.ndarray, dropped: Any = None) -> None:
        import pandas as pd

        self.index: dict[Any, int] = {}
        self.missing = -1
        self.width = 0
        for position, value in enumerate(categories.tolist()):
            if position == dropped:
                continue
            if _is_missing(value):
                self.missing = self.width
            elif isinstance(value, str | bool):
                self.index[value] = self.width
            else:
                raise Unsupported(f"category {value!r} is neither a string nor a boolean")
            self.width += 1
        self.keys = pd.Index(list(self.index), dtype=object)
        self.columns = np.fromiter(self.index.values(), dtype=np.int64, count=len(self.index))

    def codes(self, values: np.ndarray) -> np.ndarray:
        """Each value's column (-1: none). The payload checks made every value a string, a
        boolean or None."""
        if len(values) < BATCH_ROWS:
            index, missing = self.index, self.missing
            return np.array(
                [missing if v is None else index.get(v, -1) for v in values.tolist()],
                dtype=np.int64,
            )
        import pandas as pd  # a batch job's chunk only: a request's path skips the import

        values = np.asarray(values, dtype=object)
        # As an object Index: pandas would otherwise infer a string type, converting each value.
        found = self.keys.get_indexer(pd.Index(values, dtype=object, copy=False))
        codes = np.where(found >= 0, self.columns[found], -1)
        if self.missing >= 0:
            codes[np.equal(values, None)] = self.missing
        return codes


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _delegate(transformer: Any) -> Callable[[Columns, list[str], int], np.ndarray]:
    """Any other transformer, called as the ColumnTransformer calls it: on its own columns."""

    def run(columns: Columns, selected: list[str], n_rows: int) -> np.ndarray:
        import pandas as pd

        out = transformer.transform(pd.DataFrame({name: columns[name] for name in selected}))
        out = out.toarray() if hasattr(out, "toarray") else np.asarray(out)
        return out.astype(np.float64, copy=False).reshape(n_rows, -1)

    return run


# -- the exactness check at load time ------------------------------------------------------------
def _check_exact(model: ServedModel, compiled: CompiledModel) -> None:
    from .payload import parse_payload

    if model.example is None:
        raise Unsupported("the model has no input example to check the compiled path on")
    # MLflow writes a missing value of the example as NaN, which JSON clients send as null.
    rows = [[None if _is_missing(v) else v for v in row] for row in model.example["data"]]
    batch = parse_payload({"dataframe_split": {**model.example, "data": rows}}, model.columns)
    # The variants follow the example's rows: scikit-learn encodes a string column that holds
    # nothing but nulls as unseen (all zeros), and as its missing category once a string is
    # beside them. Training saw the latter, and the compiled path scores each row on its own.
    variants = [
        batch,
        *(_stacked(batch, vary(batch, model)) for vary in (_with_missing, _with_unseen)),
    ]
    # And all of them repeated to a batch job's size: the other way of stacking (transform).
    variants.append(_tiled(_stacked(_stacked(*variants[1:]), batch), BATCH_ROWS))
    ct = model.estimator.steps[0][1]
    for variant in variants:
        frame = model._frame(variant)
        expected = _dense(ct.transform(frame))
        got = _dense(compiled.transform(variant.columns, variant.n_rows))
        if expected.shape != got.shape or not np.array_equal(expected, got, equal_nan=True):
            raise Unsupported("its matrix differs from the ColumnTransformer's")
        by_frame = np.asarray(model.estimator.predict(frame)).tolist()
        if compiled.predict(variant) != np.asarray(by_frame).tolist():
            raise Unsupported("its predictions differ from the Pipeline's")


def _with_missing(batch: Batch, model: ServedModel) -> Batch:
    columns = dict(batch.columns)
    for column in model.columns:
        if not column.required:
            kind = columns[column.name].dtype
            columns[column.name] = np.full(
                batch.n_rows, math.nan if kind.kind == "f" else None, dtype=kind
            )
    return Batch(batch.n_rows, columns=columns)


def _with_unseen(batch: Batch, model: ServedModel) -> Batch:
    columns = dict(batch.columns)
    for column in model.columns:
        if column.type == "string":
            columns[column.name] = np.full(batch.n_rows, UNSEEN, dtype=object)
    return Batch(batch.n_rows, columns=columns)


def _stacked(first: Batch, second: Batch) -> Batch:
    columns = {k: np.concatenate([v, second.columns[k]]) for k, v in first.columns.items()}
    return Batch(first.n_rows + second.n_rows, columns=columns)


def _tiled(batch: Batch, rows: int) -> Batch:
    times = -(-rows // max(batch.n_rows, 1))
    columns = {k: np.concatenate([v] * times) for k, v in batch.columns.items()}
    return Batch(batch.n_rows * times, columns=columns)


def _dense(X: Any) -> np.ndarray:
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=float)
