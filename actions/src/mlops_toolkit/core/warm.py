"""One warm interpreter per CI job: the toolkit's and a project's commands fork from a process
that has already imported MLflow, scikit-learn, pandas, pyarrow and skops, instead of importing
them again in every step (a pull-request job's eleven commands: ~1.2 CPU-s each, measured).

The entry points (`mlops_toolkit.cli.main` and a project's CLI frame, `project/frame.py`) call
`delegate()` first when run as a program. It returns None, and the command runs here as
always, unless the warm process is on (below) and takes the command. Then:
- the client (this process) sends its argv, working directory, umask, environment and its
  stdin, stdout and stderr (the descriptors themselves, SCM_RIGHTS) over a Unix socket;
- the server forks a child, which becomes the command: `python -m MODULE` or the console
  script, run by `runpy` as the interpreter would, with the client's streams, directory and
  environment. It exits through the interpreter's own exit (atexit callbacks, buffered files
  flushed);
- the client forwards the signals it gets to the child, and exits with the child's status (a
  death by signal as the same signal). A client that dies takes its command with it (SIGTERM),
  as a runner's kill of a step's process tree would.

The server itself only imports, never runs a command: each child starts from the modules as
imported, never from what an earlier command left behind. It is started by the first command
of a job that finds none, in a session of its own, and is answered only by commands of the same
interpreter and the same installed packages (`fingerprint`: the executable, its flags, the
PYTHON* and locale variables, sys.path and the modification times of its folders and of the
toolkit's files); a client that differs replaces it. Its socket is in this user's 0700 folder
(`_paths`), its mark in the job's folder: it exits when the mark goes (a runner empties
$RUNNER_TEMP after each job, act removes it), after IDLE_S without a command, or on SIGTERM.

On: where `GITHUB_ACTIONS=true` and `RUNNER_TEMP` is set (the job's folder), or where
`MLOPS_WARM` names a folder (`1`: $RUNNER_TEMP, else this user's private folder). Off:
`MLOPS_WARM=0`, and everywhere else. Whatever fails before the server has taken the command
(no socket, a server that will not start, a different environment) leaves the command to run
here, cold: the warm process may only ever make a step faster.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from ..names import ENV_WARM
from . import private

# skops.io first: it names SciPy's ufuncs by searching every module already imported
# (registry/mlmodel.py `import_skops_first`), ~0.7 CPU-s more after MLflow's.
PRELOAD = ("skops.io", "mlflow", "sklearn", "pandas", "pyarrow", "mlops_toolkit.cli")
IDLE_S = 120.0  # a runner that keeps the job's folder (act after a failed job) frees it soon
START_TIMEOUT_S = 120.0  # the server's imports on a busy runner
PROTOCOL = 1
PRIVATE_NAME = "mlops-warm"  # this user's folder of sockets (core/private.py)
MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
             signal.SIGUSR2)  # fmt: skip
_in_child = False  # set in a command forked by the server: it runs, it never delegates again


def folder(env: dict[str, str] | os._Environ[str] = os.environ) -> Path | None:
    """The job's folder (the server's mark, lock and log), or None when the warm process is
    off. Asked for outside a runner (`1`): this user's private folder, where the server goes
    after IDLE_S."""
    value = env.get(ENV_WARM, "").strip()
    if value.lower() in ("0", "false", "no", "off"):
        return None
    runner_temp = env.get("RUNNER_TEMP")
    if value.lower() in ("1", "true", "yes", "on"):
        return Path(runner_temp) if runner_temp else private.path(PRIVATE_NAME)
    if value:
        return Path(value)
    if env.get("GITHUB_ACTIONS") == "true" and runner_temp:
        return Path(runner_temp)
    return None


def fingerprint() -> str:
    """What a forked child shares with the server and a fresh interpreter would read anew."""
    keys = sorted(k for k in os.environ if k.startswith(("PYTHON", "LC_")) or k == "LANG")
    parts: list[object] = [
        PROTOCOL,
        sys.executable,
        sys.version,
        sys.prefix,
        tuple(sys.flags),
        sys.warnoptions,
        sorted(sys._xoptions.items()),
        sys.path[1:],  # [0] is the script's folder or the working directory: set per command
        [(k, os.environ[k]) for k in keys],
    ]
    for entry in sys.path[1:]:
        with contextlib.suppress(OSError):
            parts.append(os.stat(entry).st_mtime_ns)  # a package installed or removed
    toolkit = Path(__file__).resolve().parents[1]
    for root, _dirs, files in os.walk(toolkit):
        for name in files:
            if name.endswith(".py"):
                with contextlib.suppress(OSError):
                    parts.append(os.stat(os.path.join(root, name)).st_mtime_ns)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


# --- the client ---------------------------------------------------------------------------


def delegate() -> int | None:
    """Run this process's command in the job's warm process and return its exit status; None
    when the command is to run here (off, not a program, or the warm process unavailable)."""
    if _in_child:
        return None
    where = folder()
    target = _target() if where is not None else None
    if where is None or target is None:
        return None
    try:
        connection = _connect(where)
    except OSError:
        return None
    if connection is None:
        return None
    with connection:
        return _run(connection, target)


def _target() -> tuple[str, str] | None:
    """How this process was started: ("module", NAME) for `python -m NAME`, ("path", FILE) for
    a script (a console script); None for anything else (`-c`, an embedding)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        return "module", spec.name
    path = getattr(main, "__file__", None)
    if path and os.path.isfile(path):
        return "path", os.path.abspath(path)
    return None


def _paths(where: Path) -> tuple[Path, Path] | None:
    """The socket (short: sun_path holds 108 bytes, a runner's folder may be deep) in this
    user's private folder, and the stem of the job's files in the job's folder: `.id` (the
    server's mark: gone with the folder, the server goes), `.lock`, `.log`, `.failed`."""
    digest = hashlib.sha256(f"{where}\0{sys.executable}\0{sys.prefix}".encode()).hexdigest()
    own = private.folder(PRIVATE_NAME)
    if own is None:
        return None  # not this user's alone: another could read a command's environment
    if not where.is_dir():
        return None
    sock = own / f"{digest[:24]}.sock"
    if len(os.fsencode(sock)) > MAX_SOCKET_PATH:
        return None
    return sock, where / f"mlops-warm-{digest[:16]}"


def _connect(where: Path) -> socket.socket | None:
    """A connection to a server with this fingerprint, started if there is none; None when
    there cannot be one."""
    paths = _paths(where)
    if paths is None:
        return None
    path, stem = paths
    mine = fingerprint()
    connection = _hello(path, mine)
    if connection is not None:
        return connection
    import fcntl

    failed = Path(f"{stem}.failed")  # a start that failed is not tried again by every step
    with open(f"{stem}.lock", "a") as lock:  # one start at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        connection = _hello(path, mine)  # another command started one meanwhile
        if connection is None and not _failed_before(failed, mine):
            if _start(path, stem):
                connection = _hello(path, mine)
            else:
                failed.write_text(mine)
    return connection


def _failed_before(marker: Path, mine: str) -> bool:
    try:
        return marker.read_text() == mine
    except OSError:
        return False


def _hello(path: Path, mine: str) -> socket.socket | None:
    """Connected and agreed on the fingerprint; a server that differs is told to go."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(os.fspath(path))
        _send(connection, {"fingerprint": mine})
        answer = _receive(connection)
    except OSError:
        connection.close()
        return None
    if answer.get("ok"):
        return connection
    connection.close()  # a server of another environment: it has unlinked its socket
    return None


def _start(path: Path, stem: Path) -> bool:
    """Start a server for this interpreter and wait until it listens (or gave up)."""
    import subprocess

    code = f"from mlops_toolkit.core import warm; warm.serve({str(path)!r}, {str(stem)!r})"
    with open(f"{stem}.log", "ab") as log:
        server = subprocess.Popen(
            [sys.executable, *_interpreter_options(), "-c", code],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    assert server.stdout is not None
    import selectors

    with server.stdout, selectors.DefaultSelector() as selector:
        selector.register(server.stdout, selectors.EVENT_READ)
        ready = bool(selector.select(START_TIMEOUT_S)) and server.stdout.readline() == b"ready\n"
    if not ready and server.poll() is None:
        server.terminate()
    return ready


def _interpreter_options() -> list[str]:
    """This interpreter's own options (`-X dev`, `-W error`, ...): the server starts alike."""
    options = sys.orig_argv[1 : len(sys.orig_argv) - len(sys.argv)]
    return options[:-1] if options[-1:] == ["-m"] else options


def _run(connection: socket.socket, target: tuple[str, str]) -> int | None:
    """Hand the command over, forward signals, and return (or die with) its status; None when
    the server did not take it (nothing ran)."""
    streams = [_stream(fd) for fd in (0, 1, 2)]
    request = {
        "target": list(target),
        "argv": sys.argv,
        "path0": sys.path[0] if sys.path else "",
        "cwd": os.getcwd(),
        "umask": _umask(),
        "env": dict(os.environ),
    }
    reader = connection.makefile("rb")  # buffered: the pid and a quick status may come as one
    try:
        _send(connection, request, streams)
        started = json.loads(reader.readline() or b"{}")
    except (OSError, ValueError):
        started = {}
    finally:
        for fd in streams:
            os.close(fd)
    pid = started.get("pid")
    if not isinstance(pid, int):
        return None  # not taken: the server refused or went before its fork, so nothing ran
    previous = {sig: signal.signal(sig, lambda s, _f: _forward(pid, s)) for sig in FORWARDED}
    try:
        status = json.loads(reader.readline() or b"{}").get("status")
    except (OSError, ValueError):
        status = None
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    if not isinstance(status, int):
        print(
            "mlops-toolkit: the warm process stopped answering; the command's outcome is unknown"
            f" (pid {pid})",
            file=sys.stderr,
        )
        return 1
    if status < 0:  # died of a signal: so does this process, for the shell to see
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
        return 128 - status
    return status


def _forward(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        # Ctrl-C reaches a terminal's whole foreground group: the command's group alike.
        if sig == signal.SIGINT:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _stream(fd: int) -> int:
    """A duplicate of this process's descriptor `fd`, or of /dev/null where it is closed."""
    try:
        return os.dup(fd)
    except OSError:
        return os.open(os.devnull, os.O_RDWR)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --- the wire: one JSON object a line, descriptors beside the first byte --------------------


def _send(connection: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode() + b"\n"
    sent = socket.send_fds(connection, [data], fds) if fds else connection.send(data)
    if sent < len(data):
        connection.sendall(data[sent:])


def _receive(connection: socket.socket, fds: list[int] | None = None) -> dict:
    """One message; the descriptors that came with it appended to `fds`."""
    chunks: list[bytes] = []
    while not chunks or not chunks[-1].endswith(b"\n"):
        if fds is not None and not chunks:
            data, received, _flags, _addr = socket.recv_fds(connection, 1 << 16, 3)
            fds.extend(received)
        else:
            data = connection.recv(1 << 16)
        if not data:
            raise ConnectionResetError("closed")
        chunks.append(data)
    return json.loads(b"".join(chunks))


# --- the server -------------------------------------------------------------------------------


def serve(path: str, stem: str) -> None:
    """The job's warm process (started by `_start`): import, listen, fork a child a command."""
    from . import gc_pace

    gc_pace.importing()  # as every entry point imports: the children inherit the pace
    import importlib
    import importlib.util

    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            if importlib.util.find_spec(name.split(".")[0]) is not None:
                importlib.import_module(name)
    import gc
    import threading

    if threading.active_count() != 1:  # a fork would lose a thread mid-work
        sys.exit("mlops-toolkit warm: a preloaded library started a thread; not serving")
    gc.freeze()  # what the imports built stays shared with every child, never walked again
    Server(path, f"{stem}.id", fingerprint()).run()


class Server:
    """A single-threaded loop: a command arrives, a child is forked, its status goes back."""

    def __init__(self, path: str, mark: str, mine: str) -> None:
        import selectors

        self.path, self.mark, self.mine, self.pid = path, mark, mine, os.getpid()
        self.children: dict[int, socket.socket] = {}
        self.selector = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Bound under a private name and renamed: a client never meets a half-started server.
        temporary = f"{path}.{self.pid}"
        self.listener.bind(temporary)
        os.chmod(temporary, 0o600)  # a command's environment carries the job's secrets
        self.listener.listen(16)
        with open(f"{mark}.{self.pid}", "w") as handle:
            handle.write(f"{self.pid}\n")
        os.rename(temporary, path)
        os.rename(f"{mark}.{self.pid}", mark)
        self.inodes = (os.stat(path).st_ino, os.stat(mark).st_ino)
        self.wakeup_r, wakeup_w = os.pipe()
        os.set_blocking(wakeup_w, False)
        signal.set_wakeup_fd(wakeup_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the loop
        self.terminated = False
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "terminated", True))
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.selector.register(self.listener, 1, self.accept)
        self.selector.register(self.wakeup_r, 1, self.reap)
        self.last = time.monotonic()
        self.listening = True
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)

    def run(self) -> None:
        while self.listening or self.children:
            for key, _events in self.selector.select(timeout=1.0):
                key.data(key.fileobj)
            idle = time.monotonic() - self.last > IDLE_S
            if self.listening and (self.terminated or idle or self.gone()):
                self.stop()
        os._exit(0)  # nothing to tear down that the children could still need

    def identity(self) -> tuple[int, int] | None:
        try:
            return os.stat(self.path).st_ino, os.stat(self.mark).st_ino
        except OSError:
            return None

    def gone(self) -> bool:
        """Whether the job's folder was emptied or another server took the names."""
        return self.identity() != self.inodes

    def stop(self) -> None:
        """Take no more commands; the running ones finish and report."""
        if self.listening:
            self.listening = False
            self.selector.unregister(self.listener)
            self.listener.close()
            for path, inode in zip((self.path, self.mark), self.inodes, strict=True):
                with contextlib.suppress(OSError):
                    if os.stat(path).st_ino == inode:  # not a successor's
                        os.unlink(path)

    def accept(self, listener: socket.socket) -> None:
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            connection.settimeout(30)
            self.last = time.monotonic()
            self.greet(connection)

    def greet(self, connection: socket.socket) -> None:
        """The fingerprint first: the same environment gets `ok` and sends its command."""
        try:
            hello = _receive(connection)
            if hello.get("fingerprint") != self.mine:
                _send(connection, {"ok": False})
                connection.close()
                self.stop()  # the client's environment is the job's now
                return
            _send(connection, {"ok": True})
            fds: list[int] = []
            request = _receive(connection, fds)
        except (OSError, ValueError):
            connection.close()
            return
        try:
            if len(fds) != 3:
                raise OSError("expected stdin, stdout and stderr")
            self.spawn(connection, request, fds)
        except OSError:
            connection.close()
        finally:
            if os.getpid() == self.pid:
                for fd in fds:
                    os.close(fd)

    def spawn(self, connection: socket.socket, request: dict, fds: list[int]) -> None:
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(go_w)
            self.become(request, fds, go_r)  # never returns
        os.close(go_r)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        try:
            _send(connection, {"pid": pid})
        except OSError:
            os.kill(pid, signal.SIGKILL)  # not started: the client runs it cold
            os.close(go_w)
            connection.close()
            return
        os.write(go_w, b"g")
        os.close(go_w)
        connection.settimeout(None)
        self.children[pid] = connection
        self.selector.register(connection, 1, lambda c: self.hang_up(c, pid))

    def hang_up(self, connection: socket.socket, pid: int) -> None:
        """The client went (or sent something it should not): its command goes too."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        self.selector.unregister(connection)

    def reap(self, wakeup: int) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            os.read(wakeup, 512)
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            connection = self.children.pop(pid, None)
            if connection is None:
                continue
            self.last = time.monotonic()
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(connection)
            with contextlib.suppress(OSError):
                _send(connection, {"status": os.waitstatus_to_exitcode(status)})
            connection.close()

    def become(self, request: dict, fds: list[int], go: int) -> None:
        """In the child: wait for the go, become the command, and leave through the
        interpreter's own exit (SystemExit passes every frame above: none catches it)."""
        global _in_child
        _in_child = True
        signal.set_wakeup_fd(-1)
        for sig, handler in (
            (signal.SIGCHLD, signal.SIG_DFL),
            (signal.SIGTERM, signal.SIG_DFL),
            (signal.SIGINT, signal.default_int_handler),
        ):
            signal.signal(sig, handler)
        self.selector.close()
        self.listener.close()
        os.close(self.wakeup_r)
        for connection in self.children.values():
            connection.close()
        if os.read(go, 1) != b"g":
            os._exit(0)  # the server could not tell the client: never run
        os.close(go)
        os.setpgid(0, 0)
        for fd, received in enumerate(fds):
            os.dup2(received, fd)
            os.close(received)
        sys.exit(_command(request))


def _command(request: dict) -> int | str | None:
    """Run the command as `python -m MODULE ARGS` or `python SCRIPT ARGS` would, in this
    (forked) interpreter; its exit status or message, as SystemExit carries it."""
    import runpy
    import traceback

    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()
    sys.argv = list(request["argv"])
    if sys.path:
        sys.path[0] = request["path0"]
    numpy = sys.modules.get("numpy")
    if numpy is not None:  # a fresh interpreter seeds numpy's global generator anew
        numpy.random.seed()
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        old = getattr(sys, f"__{name}__") or getattr(sys, name)
        stream = open(  # noqa: SIM115 - the process's own streams
            fd,
            mode,
            encoding=getattr(old, "encoding", None),
            errors=getattr(old, "errors", None),
            closefd=False,
        )
        if name == "stderr" or os.isatty(fd):  # as the interpreter buffers its own streams
            stream.reconfigure(line_buffering=True)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    kind, target = request["target"]
    # As `python -m` finds it: not the server's copy (runpy would warn that it was imported).
    sys.modules.pop(target, None)
    try:
        if kind == "module":
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exc:
        return exc.code
    except KeyboardInterrupt:
        traceback.print_exc()
        return 130
    except BaseException:
        traceback.print_exc()
        return 1
    return 0
