"""The SQLite store keeps a batch's inputs in files beside the database (store/segments.py):
the rows say where, the files follow the transaction, and a database from before reads on."""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path

import numpy as np
import pytest
from mlops_toolkit.monitoring.store import ScoredBatch, StoreError, codec, new_batch, open_store
from mlops_toolkit.monitoring.store._sql import dumps

pytestmark = pytest.mark.fast


def _batch(model: str, ts: float, rows: int = 3) -> ScoredBatch:
    matrix = np.arange(rows * 2, dtype=float).reshape(rows, 2) + ts
    return ScoredBatch(new_batch(ts), model, "1", "production", ts, ["x", "y"], matrix, [0] * rows)


def _files(db: Path) -> dict[str, int]:
    folder = Path(f"{db}-inputs")
    return {p.name: p.stat().st_size for p in folder.iterdir()} if folder.exists() else {}


def test_inputs_live_in_the_folder_and_read_back(tmp_path: Path) -> None:
    db, model = tmp_path / "p.sqlite3", f"m-{uuid.uuid4().hex[:6]}"
    with open_store(f"sqlite:///{db}") as store:
        store.write_batches([_batch(model, 10.0), _batch(model, 11.0, rows=100)])
        joined = store.read_joined(model)
    assert [j.prediction.inputs for j in joined[:2]] == [
        {"x": 10.0, "y": 11.0},
        {"x": 12.0, "y": 13.0},
    ]
    assert joined[-1].prediction.inputs == {"x": 209.0, "y": 210.0}
    rows = (
        sqlite3.connect(db)
        .execute(
            "SELECT length(inputs), inputs_file, inputs_offset, inputs_length "
            "FROM prediction_batches ORDER BY ts"
        )
        .fetchall()
    )
    (name,) = _files(db)
    assert [r[0] for r in rows] == [0, 0]  # no bytes of inputs in the database
    assert rows[0][1:3] == (name, 0) and rows[1][2] == rows[0][3]  # back to back
    assert _files(db)[name] == rows[1][2] + rows[1][3]
    assert sqlite3.connect(db).execute("PRAGMA page_size").fetchone() == (4096,)


def test_a_rolled_back_transaction_leaves_no_bytes(tmp_path: Path) -> None:
    """A batch job that fails late: no rows, and the file cut back to what it held."""
    db, model = tmp_path / "p.sqlite3", "m"
    with open_store(f"sqlite:///{db}") as store:
        store.write_batches([_batch(model, 1.0)])
        before = _files(db)
        with pytest.raises(RuntimeError), store.writing_batches() as write:
            write([_batch(model, 2.0, rows=1000)])
            assert sum(_files(db).values()) > sum(before.values())
            raise RuntimeError("a bad value in the last chunk")
        assert _files(db) == before
        store.write_batches([_batch(model, 3.0)])
        assert [j.prediction.inputs["x"] for j in store.read_joined(model)][::3] == [1.0, 3.0]


def test_the_inputs_are_on_disk_before_the_commit_that_names_them(tmp_path, monkeypatch) -> None:
    """fdatasync of the inputs file comes before COMMIT: a committed row never points past what
    survives a power loss."""
    db = tmp_path / "p.sqlite3"
    events: list[str] = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (events.append("sync"), real(fd))[1])
    with open_store(f"sqlite:///{db}") as store:
        store._conn.set_trace_callback(lambda sql: events.append(sql.split()[0]))
        store.write_batches([_batch("m", 1.0)])
        store.write_labels([])  # a transaction with no inputs syncs nothing
    assert events[events.index("BEGIN") :] == ["BEGIN", "INSERT", "sync", "COMMIT"]


def _resident_pages(path: Path) -> int:
    """Pages of the file in the page cache now (mincore(2) on a mapping of it)."""
    import ctypes
    import mmap

    size = path.stat().st_size
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY) as mapped:
        pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        vector = (ctypes.c_ubyte * pages)()
        address = ctypes.addressof(ctypes.c_char.from_buffer(mapped))
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        assert libc.mincore(address, size, vector) == 0, ctypes.get_errno()
        return sum(v & 1 for v in vector)


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here")
def test_the_inputs_leave_the_page_cache_once_on_disk(tmp_path, monkeypatch) -> None:
    """After the fdatasync, each appended byte range is dropped from the page cache once (its
    pages are clean: nothing is lost), in the server's transactions and a batch job's chunks."""
    db = tmp_path / "p.sqlite3"
    dropped: list[tuple[int, int]] = []
    real = os.posix_fadvise

    def advise(fd: int, offset: int, length: int, advice: int) -> None:
        dropped.append((offset, length))
        real(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", advise)
    with open_store(f"sqlite:///{db}") as store:
        store.write_batches([_batch("m", 1.0, rows=2000), _batch("m", 2.0, rows=3000)])
        first = sum(_files(db).values())
        with store.writing_batches() as write:
            write([_batch("m", 3.0, rows=4000)])
            write([_batch("m", 4.0, rows=5000)])
        (inputs,) = Path(f"{db}-inputs").iterdir()
        assert _resident_pages(inputs) <= 2  # at most the partial pages at the ranges' ends
        end = sum(_files(db).values())
        assert dropped[0] == (0, first)
        assert [start for start, _ in dropped[1:]] == [first, dropped[1][0] + dropped[1][1]]
        assert dropped[-1][0] + dropped[-1][1] == end
        inputs_x = [j.prediction.inputs["x"] for j in store.read_joined("m")]
    assert len(inputs_x) == 14000 and inputs_x[:2] == [1.0, 3.0]  # read back from the disk


def test_a_file_system_refusing_the_advice_loses_nothing(tmp_path, monkeypatch) -> None:
    """The page-cache advice is only advice: a file system that refuses it (EINVAL) neither
    fails the write nor rolls it back."""

    def refuse(*args: object) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "posix_fadvise", refuse, raising=False)
    db = tmp_path / "p.sqlite3"
    with open_store(f"sqlite:///{db}") as store:
        store.write_batches([_batch("m", 1.0), _batch("m", 2.0)])
        assert [j.prediction.inputs["x"] for j in store.read_joined("m")][::3] == [1.0, 2.0]


def test_a_database_without_its_folder_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "p.sqlite3"
    with open_store(f"sqlite:///{db}") as store:
        store.write_batches([_batch("m", 1.0)])
    os.rename(f"{db}-inputs", tmp_path / "elsewhere")
    with open_store(f"sqlite:///{db}") as store, pytest.raises(StoreError) as err:
        store.read_joined("m")
    assert "\n" not in str(err.value) and f"{db}-inputs" in str(err.value)
    (tmp_path / "elsewhere" / os.listdir(tmp_path / "elsewhere")[0]).write_bytes(b"cut")
    os.rename(tmp_path / "elsewhere", f"{db}-inputs")
    with open_store(f"sqlite:///{db}") as store, pytest.raises(StoreError, match="shorter"):
        store.read_joined("m")


def test_a_database_from_before_the_folder_reads_on_and_writes_to_it(tmp_path: Path) -> None:
    """A store file made when the inputs were in the rows (the schema then, 64 KiB pages):
    its rows read back, it gains the columns, and new batches go to the folder."""
    db = tmp_path / "old.sqlite3"
    old = sqlite3.connect(db)
    old.execute("PRAGMA page_size=65536")
    old.execute("PRAGMA journal_mode=WAL")
    old.execute(
        "CREATE TABLE prediction_batches (batch_id TEXT PRIMARY KEY, model_name TEXT NOT NULL, "
        "model_version TEXT NOT NULL, environment TEXT NOT NULL, ts REAL NOT NULL, "
        "n INTEGER NOT NULL, inputs BLOB NOT NULL, predictions TEXT NOT NULL, classes TEXT, "
        "scores TEXT)"
    )
    stored = codec.encode(["x", "y"], np.array([[1.5, 2.5]]), dumps)
    old.execute(
        "INSERT INTO prediction_batches VALUES (?, 'm', '1', 'production', 1.0, 1, ?, '[1]', "
        "NULL, NULL)",
        (new_batch(1.0), stored),
    )
    old.commit()
    old.close()
    with open_store(f"sqlite:///{db}") as store:
        store.write_batches([_batch("m", 2.0, rows=1)])
        joined = store.read_joined("m")
    assert [j.prediction.inputs for j in joined] == [{"x": 1.5, "y": 2.5}, {"x": 2.0, "y": 3.0}]
    assert len(_files(db)) == 1


def test_numeric_inputs_reach_the_file_without_a_copy_and_read_back(tmp_path: Path) -> None:
    """`codec.encode_parts` hands a request's numeric arrays to the file write as they are (the
    writer's cost per 100-row request; see segments.py), and the bytes are `encode`'s."""
    matrix = np.arange(300, dtype=float).reshape(100, 3) / 7
    parts = codec.encode_parts(["a", "b", "c"], matrix, dumps)
    assert any(np.shares_memory(part, matrix) for part in parts if isinstance(part, np.ndarray))
    columns = {"n": np.arange(5, dtype=np.int64) * 1000, "s": np.array(["x", "y", "z", "u", "v"])}
    column_parts = codec.encode_parts(["n", "s"], columns, dumps)
    encoded = len(codec.encode(["n", "s"], columns, dumps))
    assert sum(memoryview(part).nbytes for part in column_parts) == encoded
    db, model = tmp_path / "p.sqlite3", "m"
    batch = ScoredBatch(
        new_batch(5.0), model, "1", "production", 5.0, ["a", "b", "c"], matrix, [0] * 100
    )
    mixed = ScoredBatch(new_batch(6.0), model, "1", "production", 6.0, ["n", "s"], columns, [1] * 5)
    with open_store(f"sqlite:///{db}") as store:
        store.write_batches([batch, mixed])
        joined = store.read_joined(model)
    assert [list(j.prediction.inputs.values()) for j in joined[:100]] == matrix.tolist()
    assert [j.prediction.inputs for j in joined[100:]] == [
        {"n": 1000 * i, "s": s} for i, s in enumerate("xyzuv")
    ]
    (blob,) = [p for p in Path(f"{db}-inputs").iterdir()]
    assert blob.read_bytes() == b"".join(
        codec.encode(b.columns, b.rows, dumps) for b in (batch, mixed)
    )
