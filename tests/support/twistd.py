"""
A real C{twistd ratchet} process for integration tests, and blocking-socket
helpers to talk to it.

    proc = TwistdProcess.start("--protocol", "raw", "--app", "ratchet_tx.examples.echo:Echo")
    try:
        client = connect(proc.port)
        client.sendall(b"hello")
        assert recvUntil(client, 5) == b"hello"
    finally:
        proc.stop()

The process runs from a temporary directory with the source tree first on
C{PYTHONPATH}, so the C{ratchet_tx} and C{twisted/plugins} of this checkout are
what it uses.  Unless told otherwise it listens on a free loopback port, and
L{TwistdProcess.start} returns once the log says which one.  Every wait is
bounded: nothing here can hang a test run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.netns import Host

#: The checkout this test suite belongs to.
REPO_ROOT = Path(__file__).resolve().parents[2]

#: What C{--listen} defaults to here: a free port on the loopback interface.
LOOPBACK_ANY_PORT = "tcp:0:interface=127.0.0.1"

#: The exit status of a twistd that shut down in order after SIGTERM.  twistd
#: stops the reactor, runs every shutdown trigger (stopService), and then
#: re-raises the signal so its parent sees why it ended, so
#: the status is "killed by SIGTERM", not 0.  A twistd that hung is SIGKILLed
#: by L{TwistdProcess.stop}, which then raises.
SIGTERM_EXIT = -signal.SIGTERM

#: How a listening port announces itself in the log: "Server starting on 41234"
#: (or "starting on '/path'" for a UNIX socket, which has no port number).
_STARTING_ON = re.compile(r"starting on (\S+)")

_POLL_INTERVAL = 0.02


def _catchesSigterm(pid: int) -> bool | None:
    """
    Whether process C{pid} has a SIGTERM handler installed, from
    C{/proc/<pid>/status}; C{None} where that cannot be known.
    """
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("SigCgt:"):
                    return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except OSError:
        pass
    return None


class TwistdError(AssertionError):
    """twistd did not do what the test needed; the message carries its log."""


def twistdCommand() -> list[str]:
    """
    The command that runs this environment's twistd: the C{twistd} script next
    to C{sys.executable}, or the interpreter running twistd's entry point.
    """
    script = Path(sys.executable).parent / "twistd"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def twistdEnvironment(env: dict[str, str] | None = None) -> dict[str, str]:
    """
    The environment for a twistd subprocess: ours, with the checkout first on
    C{PYTHONPATH}, unbuffered output, and C{env} on top.
    """
    result = dict(os.environ)
    pythonPath = [str(REPO_ROOT)]
    if result.get("PYTHONPATH"):
        pythonPath.append(result["PYTHONPATH"])
    result["PYTHONPATH"] = os.pathsep.join(pythonPath)
    result["PYTHONUNBUFFERED"] = "1"
    if env:
        result.update(env)
    return result


def runTwistd(
    *args: str,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
    separateStderr: bool = False,
    files: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """
    Run C{twistd <args>} to completion (for C{--help}, or options that must be
    refused) from a temporary directory, and return it with stdout and stderr
    together in C{.stdout} (or apart, in C{.stdout} and C{.stderr}, with
    C{separateStderr}).

    Pass C{-n} and C{--pidfile=} yourself when the command could start a
    server: without C{-n} twistd would daemonize.

    @param files: files to write into the directory first, by name.
    @raise subprocess.TimeoutExpired: it ran longer than C{timeout} seconds
        (it is killed first).
    """
    with tempfile.TemporaryDirectory(prefix="twistd-run-") as cwd:
        _writeFiles(Path(cwd), files)
        return subprocess.run(
            [*twistdCommand(), *args],
            cwd=cwd,
            env=twistdEnvironment(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if separateStderr else subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )


def _writeFiles(directory: Path, files: Mapping[str, str] | None) -> None:
    for name, text in (files or {}).items():
        (directory / name).write_text(text)


def _countListen(args: tuple[str, ...]) -> int:
    return sum(1 for arg in args if arg in ("--listen", "-l") or arg.startswith("--listen="))


class LoggedProcess:
    """
    A server subprocess whose output goes to a log file in its own
    temporary folder; the folder goes once the process is done with.

    @ivar pid: its process id.
    """

    pid: int

    def __init__(self, popen: subprocess.Popen[bytes], logPath: Path) -> None:
        self._popen = popen
        self._workdir = logPath.parent
        self._logPath = logPath
        self._finalLog: str | None = None
        self.pid = popen.pid

    @property
    def running(self) -> bool:
        """The process has not exited yet."""
        return self._popen.poll() is None

    def log(self) -> str:
        """Everything it wrote to stdout and stderr so far."""
        if self._finalLog is not None:
            return self._finalLog
        try:
            return self._logPath.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _kill(self) -> None:
        if self._popen.poll() is None:
            self._popen.kill()
            self._popen.wait(10)
        self._finish()

    def _finish(self) -> None:
        if self._finalLog is None:
            self._finalLog = self.log()
            shutil.rmtree(self._workdir, ignore_errors=True)


class TwistdProcess(LoggedProcess):
    """
    A running C{twistd -n ratchet ...}.

    @ivar port: the first TCP port it listens on.
    @ivar ports: every TCP port it listens on, in the order it started them.
    """

    port: int
    ports: list[int]

    def __init__(self, popen: subprocess.Popen[bytes], workdir: Path) -> None:
        super().__init__(popen, workdir / "twistd.log")
        self.ports = []

    @classmethod
    def start(
        cls,
        *args: str,
        timeout: float = 20.0,
        env: dict[str, str] | None = None,
        files: Mapping[str, str] | None = None,
        on: Host | None = None,
    ) -> TwistdProcess:
        """
        Start C{twistd -n --pidfile= ratchet <args>} and wait until it
        serves: every endpoint it was given listens and its reactor runs.
        With no C{--listen} in C{args} it listens on a free loopback port.
        It runs in a temporary directory, with C{files} (by name) in it,
        on this host or on the host C{on} of a L{tests.support.netns.Network}
        (give it a C{--listen} on that host's address, then).

        @raise TwistdError: it exited, or did not listen within C{timeout}
            seconds (it is killed first); the message holds its log.
        """
        if _countListen(args) == 0:
            args = (*args, "--listen", LOOPBACK_ANY_PORT)
        expected = _countListen(args)
        workdir = Path(tempfile.mkdtemp(prefix="twistd-"))
        _writeFiles(workdir, files)
        command = [*twistdCommand(), "-n", "--pidfile=", "ratchet", *args]
        if on is not None:
            command = on.command(*command)
        with open(workdir / "twistd.log", "wb") as logFile:
            popen = subprocess.Popen(
                command,
                cwd=workdir,
                env=twistdEnvironment(env),
                stdin=subprocess.DEVNULL,
                stdout=logFile,
                stderr=subprocess.STDOUT,
            )
        proc = cls(popen, workdir)
        try:
            proc._waitUntilServing(expected, timeout)
        except BaseException:
            proc._kill()
            raise
        return proc

    def _waitUntilServing(self, expected: int, timeout: float) -> None:
        """
        Wait until every endpoint listens and the reactor runs.

        twistd binds its ports (and logs "starting on") before it starts the
        reactor, and only the running reactor accepts connections and handles
        SIGTERM: a SIGTERM sent in between would kill twistd outright, with
        no orderly shutdown.  The reactor installs its SIGTERM handler as it
        starts, so on Linux "serving" is "listening and catching SIGTERM".
        """
        deadline = time.monotonic() + timeout
        while True:
            announced = _STARTING_ON.findall(self.log())
            if len(announced) >= expected and _catchesSigterm(self.pid) is not False:
                self.ports = [int(p) for p in announced if p.isdigit()]
                if self.ports:
                    self.port = self.ports[0]
                return
            if self._popen.poll() is not None:
                raise TwistdError(
                    f"twistd exited with {self._popen.returncode} before listening:\n" + self.log()
                )
            if time.monotonic() > deadline:
                raise TwistdError(
                    f"twistd did not listen on {expected} endpoint(s) within "
                    f"{timeout}s:\n" + self.log()
                )
            time.sleep(_POLL_INTERVAL)

    def stop(self, timeout: float = 10.0) -> int:
        """
        Send SIGTERM and wait for the process to exit.  Stopping a stopped
        process just returns its exit status again.

        @return: its exit status as L{subprocess.Popen.returncode} gives it
            (L{SIGTERM_EXIT} for an orderly shutdown).
        @raise TwistdError: it did not exit within C{timeout} seconds; it is
            SIGKILLed first.
        """
        if self._popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                raise TwistdError(
                    f"twistd did not exit within {timeout}s of SIGTERM:\n" + self.log()
                ) from None
        self._finish()
        return self._popen.returncode

    def __enter__(self) -> TwistdProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<TwistdProcess pid={self.pid} ports={self.ports}>"


def connect(port: int, timeout: float = 5.0, host: str = "127.0.0.1") -> socket.socket:
    """A blocking TCP socket connected to C{host:port}, each operation bounded by C{timeout}."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def recvUntil(
    sock: socket.socket,
    until: int | bytes | Callable[[bytes], bool],
    timeout: float = 5.0,
) -> bytes:
    """
    Read from C{sock} until what was read satisfies C{until}: at least that
    many bytes (an C{int}), contains those bytes (a C{bytes}), or makes the
    predicate true.  Returns everything read.

    @raise TwistdError: the peer closed, or C{timeout} seconds passed, first.
    """
    if isinstance(until, int):
        nbytes = until

        def done(data: bytes) -> bool:
            return len(data) >= nbytes

    elif isinstance(until, bytes):
        needle = until

        def done(data: bytes) -> bool:
            return needle in data

    else:
        done = until

    received = b""
    deadline = time.monotonic() + timeout
    while not done(received):
        chunk = recvBefore(sock, deadline)
        if chunk is None:
            raise TwistdError(f"timed out after {timeout}s; received {received!r}")
        if not chunk:
            raise TwistdError(f"connection closed; received {received!r}")
        received += chunk
    return received


def recvBefore(sock: socket.socket, deadline: float) -> bytes | None:
    """
    One C{recv} from C{sock} that waits until C{deadline} (a
    C{time.monotonic()} value) at most.

    @return: the bytes read (C{b""} at EOF), or C{None} if the deadline
        passed first.  A reset raises L{ConnectionResetError}.
    """
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        sock.settimeout(remaining)
        try:
            return sock.recv(65536)
        except TimeoutError:
            continue


def recvUntilClosed(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """
    Read from C{sock} until the peer closes it gracefully (EOF); returns what
    was read.  A reset (an abort) raises L{ConnectionResetError}.

    @raise TwistdError: it was still open after C{timeout} seconds.
    """
    received = b""
    deadline = time.monotonic() + timeout
    while True:
        chunk = recvBefore(sock, deadline)
        if chunk is None:
            raise TwistdError(f"still open after {timeout}s; received {received!r}")
        if not chunk:
            return received
        received += chunk
