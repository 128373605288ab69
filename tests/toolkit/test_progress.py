"""Progress bars (core/progress.py): a bar on a terminal (a real pty), nothing noisy in CI logs,
and the long loops that use it (the gate's bootstrap, init-data's steps) draw through it."""

from __future__ import annotations

import fcntl
import io
import os
import select
import struct
import sys
import termios
from collections.abc import Iterator

import numpy as np
import projectkit
import pytest
from mlops_toolkit.core import progress
from mlops_toolkit.gate import stats

pytestmark = pytest.mark.fast
generated, workdir = projectkit.generated, projectkit.workdir  # fixtures


class Terminal:
    """A real pseudo-terminal: the writer end is a TTY (isatty() is true), the test reads the
    other end."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        # 24 rows, 100 columns: a new pty is 0x0, and a bar fits in no column at all.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.writer = open(slave, "w", buffering=1, encoding="utf-8")  # noqa: SIM115

    def read(self) -> str:
        self.writer.flush()
        chunks = []
        while select.select([self.master], [], [], 0.2)[0]:
            chunks.append(os.read(self.master, 65536))
        return b"".join(chunks).decode("utf-8", "replace")

    def close(self) -> None:
        self.writer.close()
        os.close(self.master)


@pytest.fixture
def terminal(monkeypatch) -> Iterator[Terminal]:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(progress, "DELAY_S", 0)  # draw at once: the work here is quick
    tty = Terminal()
    yield tty
    tty.close()


def work(stream, total: int = 5, **options) -> None:
    with progress.bar(total, "crunching", " rows", stream=stream, **options) as shown:
        for _ in range(total):
            shown.advance()


def test_a_bar_is_drawn_on_a_terminal(terminal):
    assert progress.live(terminal.writer)
    work(terminal.writer)
    out = terminal.read()
    assert "crunching" in out and "5/5" in out and "100%" in out, out
    assert "\r" in out  # redrawn in place: a bar, not lines


@pytest.mark.parametrize("ci", ["true", "1"])
def test_ci_draws_no_bar_even_on_a_terminal(terminal, monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    assert not progress.live(terminal.writer)
    work(terminal.writer)
    assert terminal.read() == ""


def test_off_a_terminal_long_work_leaves_one_summary_line(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    log = io.StringIO()  # a CI log, a pipe: no TTY
    work(log, total=3)
    assert log.getvalue() == ""  # quick work: nothing at all
    work(log, total=3, summary_after_s=0)  # as if it had been long
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crunching: 3/3 rows in "), lines
    assert "\r" not in log.getvalue()


def test_the_commands_own_switch_silences_it(terminal):
    work(terminal.writer, enabled=False, summary_after_s=0)
    assert terminal.read() == ""


def test_the_gate_bootstrap_draws_its_bar_on_a_terminal(terminal, monkeypatch):
    monkeypatch.setattr(sys, "stderr", terminal.writer)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    guess = stats.Predictions(labels=np.where(rng.random(400) < 0.8, y, 1 - y))
    results = stats.evaluate(["accuracy"], y, [guess], resamples=300, chunk=100)
    assert 0.7 < results["accuracy"].values[0] < 0.9
    out = terminal.read()
    assert "bootstrap" in out and "300/300" in out, out


def test_the_gate_bootstrap_is_silent_in_ci(terminal, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(sys, "stderr", terminal.writer)
    y = np.array([0, 1] * 100)
    stats.evaluate(["accuracy"], y, [stats.Predictions(labels=y)], resamples=200, chunk=50)
    assert terminal.read() == ""


def test_init_data_names_its_steps_on_a_terminal(terminal, monkeypatch, workdir):
    import pandas as pd
    from mlops_toolkit.project import init_data

    monkeypatch.setattr(sys, "stderr", terminal.writer)
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"x": rng.normal(size=60), "kind": rng.choice(["a", "b", None], 60), "y": [0, 1] * 30}
    )
    frame.to_csv(workdir / "mine.csv", index=False)
    outcome = init_data.run("mine.csv", "y", [], task="classification")
    assert outcome.rows == 60
    out = terminal.read()
    assert "init-data" in out and f"{len(init_data.STEPS)}/{len(init_data.STEPS)}" in out, out
    assert "deriving the suite" in out, out
