"""Where a SQLite store keeps the inputs' bytes: append-only files beside the database.

`<database>-inputs/YYYYMMDD.bin`, one per UTC day of writing, holding each batch's encoded inputs
(codec.py) back to back; the batch's row holds (file, offset, length). Kept out of SQLite's
pages because WAL writes every page twice (the log, then the checkpoint's copy into the
database): for a 100-row request that was most of what logging cost the scoring server (~85 µs
of its one core, where a file append costs ~12). The folder travels with the database.

The files follow SQLite's transaction: bytes are appended only while the store holds SQLite's
write lock (so offsets are the files' sizes, even with several processes), flushed to disk
before the COMMIT that refers to them (a committed row never points past what survived a power
loss), and cut back to where they were when the transaction rolls back (a batch job that fails
late leaves no dead bytes behind). A process killed mid-transaction leaves unreferenced bytes
at a file's end: the next writer appends after them.

Once on disk, the appended bytes leave the page cache (`POSIX_FADV_DONTNEED`, as PostgreSQL does
for its WAL): the writer reads them never, the monitoring jobs rarely. Left there, every
transaction wrote into newly allocated cache pages, which cost the scoring server's writer
thread ~12 µs more a 100-row request (41 against 29 µs of its one pinned core, 2026-12-07).
"""

from __future__ import annotations

import os
import time
from contextlib import suppress
from typing import Any

from . import StoreError

SUFFIX = "-inputs"
_DROP = getattr(os, "POSIX_FADV_DONTNEED", None)  # Linux and the BSDs; not macOS
IOV_MAX = 1024  # buffers per pwritev: Linux's limit


class Segments:
    def __init__(self, database: str) -> None:
        self.directory = database + SUFFIX
        self._fds: dict[str, int] = {}  # open files by name, written or read
        self._start: dict[str, int] = {}  # size at this transaction's first append
        self._end: dict[str, int] = {}  # size after this transaction's appends
        self._unsynced: set[str] = set()
        self._dropped: dict[str, int] = {}  # on disk and out of the cache up to here
        self._writable: set[str] = set()  # names opened for writing

    def append(self, blobs: list[list[Any]]) -> list[tuple[str, int, int]]:
        """Write each blob (a list of buffers: bytes, or the C-contiguous arrays that
        `codec.encode_parts` gives) to today's file: their (file, offset, length), in order.
        Call only inside the store's write transaction."""
        name = time.strftime("%Y%m%d.bin", time.gmtime())
        fd = self._fd(name, write=True)
        if name not in self._end:  # first append of this transaction: the file's true end
            self._start[name] = self._end[name] = os.fstat(fd).st_size
        offset = start = self._end[name]
        refs, buffers, sizes = [], [], []
        for parts in blobs:
            begin = offset
            for part in parts:
                buffers.append(part)
                sizes.append(memoryview(part).nbytes)
                offset += sizes[-1]
            refs.append((name, begin, offset - begin))
        for i in range(0, len(buffers), IOV_MAX):  # one system call for a batch of requests
            written = os.pwritev(fd, buffers[i : i + IOV_MAX], start)
            if written != sum(sizes[i : i + IOV_MAX]):  # a full disk: short write
                raise OSError(f"short write to {self.directory}/{name}")
            start += written
        self._end[name] = offset
        self._unsynced.add(name)
        return refs

    def flush(self) -> None:
        """Put what this transaction appended on disk (before its COMMIT; a batch job also after
        each chunk, so the commit waits for the last one only)."""
        for name in self._unsynced:
            fd = self._fds[name]
            os.fdatasync(fd)
            start, end = self._dropped.get(name, self._start[name]), self._end[name]
            if _DROP is not None and end > start:
                # Advice only: a file system may refuse it, and the data is on disk already.
                with suppress(OSError):
                    os.posix_fadvise(fd, start, end - start, _DROP)
            self._dropped[name] = end
        self._unsynced.clear()

    def ended(self) -> None:
        """The transaction is over (committed, or rolled back and cut): the next one's first
        append reads the files' ends again."""
        self._start.clear()
        self._end.clear()
        self._dropped.clear()

    def rolled_back(self) -> None:
        """Cut the files back to their size before the transaction (best effort: a failure here
        leaves only unreferenced bytes)."""
        for name, size in self._start.items():
            with suppress(OSError):
                os.ftruncate(self._fds[name], size)
        self._unsynced.clear()
        self.ended()

    def read(self, name: str, offset: int, length: int) -> bytes:
        """The bytes a row refers to; StoreError when the file is missing or short (a database
        copied without its `-inputs` folder)."""
        path = os.path.join(self.directory, name)
        try:
            data = os.pread(self._fd(name, write=False), length, offset)
        except OSError as exc:
            raise StoreError(
                f"prediction store: cannot read the inputs file {path} ({exc.strerror}): "
                f"a SQLite store is its database and the {SUFFIX} folder beside it"
            ) from None
        if len(data) != length:
            raise StoreError(
                f"prediction store: the inputs file {path} is shorter than the database says "
                f"({offset + len(data)} of {offset + length} bytes): it was cut or replaced"
            )
        return data

    def _fd(self, name: str, *, write: bool) -> int:
        fd = self._fds.get(name)
        if fd is not None and (not write or name in self._writable):
            return fd
        if write:
            os.makedirs(self.directory, exist_ok=True)
            if fd is not None:  # opened for reading before: again, for writing
                os.close(fd)
            fd = os.open(os.path.join(self.directory, name), os.O_RDWR | os.O_CREAT, 0o644)
            self._writable.add(name)
        else:
            fd = os.open(os.path.join(self.directory, name), os.O_RDONLY)
        self._fds[name] = fd
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            with suppress(OSError):
                os.close(fd)
        self._fds.clear()
        self._writable.clear()
