"""
A real C{redis-server} of a test's own: Debian's, on a free loopback port, with
no persistence, in a temporary directory.

    server = RedisServer.start()                 # or start(password="secret")
    self.addCleanup(server.stop)
    client = RedisClient(reactor, server.url())  # redis://127.0.0.1:<port>/0
    server.command("SET", "key", "value")        # a blocking side channel
    server.stop()                                # an outage ...
    server.restart()                             # ... and the same port again

Each run of the server has its own temporary directory, where it writes its
log and its UNIX socket (L{RedisServer.unixURL}); C{--save ''} and
C{--appendonly no} keep it from writing anything else, so a restarted server
starts empty.  L{RedisServer.stop} stops it (SIGTERM, then SIGKILL) and
removes the directory; it may be called any number of times, and a server a
test forgot is stopped when the interpreter exits.  Every wait is bounded.

Without C{redis-server} installed, L{RedisServer.start} raises
L{RedisServerError}, an C{AssertionError} (so the test fails, never skips),
whose message says what to install: C{apt-get install redis-server}.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from ratchet_tx.redis.errors import RedisError
from ratchet_tx.redis.resp import Argument, Reply, ReplyParser, encodeCommand
from tests.support.twistd import LoggedProcess

if TYPE_CHECKING:
    from tests.support.netns import Host

#: Where Debian installs the server; else it is looked for on C{PATH}.
REDIS_SERVER = "/usr/bin/redis-server"

#: The line that tells a developer or CI what is missing.
INSTALL_HINT = "apt-get install redis-server"

#: How long L{RedisServer.start} waits for the server to answer, in seconds.
START_TIMEOUT = 15.0

#: How long L{RedisServer.stop} waits after SIGTERM before SIGKILL.
STOP_TIMEOUT = 10.0

#: How long one L{RedisServer.command} may take, in seconds.
COMMAND_TIMEOUT = 10.0

_POLL_INTERVAL = 0.02

_running: set[RedisServer] = set()


class RedisServerError(AssertionError):
    """The server is missing or did not do what the test needed."""


def redisServerExecutable() -> str:
    """
    The C{redis-server} to run.

    @raise RedisServerError: there is none (the message says what to install).
    """
    if os.access(REDIS_SERVER, os.X_OK):
        return REDIS_SERVER
    found = shutil.which("redis-server")
    if found is None:
        raise RedisServerError(
            f"the Redis tests need redis-server (on Debian: {INSTALL_HINT})\n{INSTALL_HINT}"
        )
    return found


def freePort(host: str = "127.0.0.1") -> int:
    """A TCP port on C{host} that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """
    One C{redis-server} process on C{127.0.0.1:port} (see the module
    docstring).

    @ivar host: C{"127.0.0.1"}.
    @ivar port: its TCP port, the same across L{restart}s.
    @ivar password: the C{requirepass} password, or C{None}.
    @ivar args: the extra C{redis-server} options it was started with.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        port: int,
        password: str | None,
        args: tuple[str, ...],
        on: Host | None = None,
    ) -> None:
        if on is not None:
            self.host = on.address
        self.on = on
        self.port = port
        self.password = password
        self.args = args
        # The current run, or the last one once stopped (for its log).
        self._process: LoggedProcess | None = None
        self._stopped = True
        self._socketPath: Path | None = None

    @classmethod
    def start(
        cls,
        *args: str,
        password: str | None = None,
        timeout: float = START_TIMEOUT,
        on: Host | None = None,
    ) -> RedisServer:
        """
        Start a server on a free port and wait until it answers C{PING}.

        @param args: more C{redis-server} options (C{"--maxclients", "10"}).
        @param password: start it with C{--requirepass}.
        @param on: a host of a L{tests.support.netns.Network} to run it on,
            listening on that host's address and loopback, port 6379 (the host's
            namespace is its own: the port is free); by default, this host's
            loopback.
        @raise RedisServerError: C{redis-server} is missing, or it did not
            answer within C{timeout} seconds (it is killed first; the
            message holds its log).
        """
        port = freePort(cls.host) if on is None else 6379
        server = cls(port, password, args, on)
        server._run(timeout)
        return server

    def _command(self, executable: str, workdir: Path) -> list[str]:
        command = [
            executable,
            "--port", str(self.port),
            "--bind", self.host,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(workdir),
            "--unixsocket", str(workdir / "redis.sock"),
            "--unixsocketperm", "700",
            "--daemonize", "no",
        ]  # fmt: skip
        if self.password is not None:
            command += ["--requirepass", self.password]
        if self.on is None:
            return command + list(self.args)
        # Its host's loopback too, for processes on that host.  Without a
        # password Redis answers only loopback clients unless told otherwise;
        # the test's network reaches no one else.
        command[command.index("--bind") + 1] += " 127.0.0.1"
        command += ["--protected-mode", "no"]
        return self.on.command(*command, *self.args)

    def _run(self, timeout: float) -> None:
        executable = redisServerExecutable()
        workdir = Path(tempfile.mkdtemp(prefix="ratchet-redis-"))
        command = self._command(executable, workdir)
        logPath = workdir / "redis.log"
        with open(logPath, "wb") as logFile:
            popen = subprocess.Popen(
                command,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=logFile,
                stderr=subprocess.STDOUT,
            )
        self._process = LoggedProcess(popen, logPath)
        self._stopped = False
        self._socketPath = workdir / "redis.sock"
        _running.add(self)
        try:
            self._waitUntilAnswering(timeout)
        except BaseException:
            self.stop()
            raise

    def _waitUntilAnswering(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while True:
            if not self._process.running:
                raise RedisServerError(
                    f"redis-server on port {self.port} exited:\n{self._process.log()}"
                )
            try:
                if self.command("PING") == "PONG":
                    return
            except (OSError, RedisServerError):
                pass
            if time.monotonic() > deadline:
                raise RedisServerError(
                    f"redis-server on port {self.port} did not answer within {timeout}s:\n"
                    + self._process.log()
                )
            time.sleep(_POLL_INTERVAL)

    @property
    def running(self) -> bool:
        """The server process is running."""
        return self._process is not None and not self._stopped and self._process.running

    def url(self, db: int = 0, password: str | None = None) -> str:
        """
        A C{redis://} URL for the server (with its password, or
        C{password} instead).
        """
        secret = self.password if password is None else password
        userinfo = f":{quote(secret, safe='')}@" if secret is not None else ""
        return f"redis://{userinfo}{self.host}:{self.port}/{db}"

    def unixURL(self, db: int = 0) -> str:
        """A C{unix://} URL for the server's UNIX socket (of this run)."""
        assert self._socketPath is not None
        userinfo = f":{quote(self.password, safe='')}@" if self.password is not None else ""
        return f"unix://{userinfo}{self._socketPath}?db={db}"

    def command(self, *args: Argument, timeout: float = COMMAND_TIMEOUT) -> Reply:
        """
        Run one command on a connection of its own (logged in with the
        server's password) and return the reply.

        @raise RedisServerError: the reply is an error, or no reply came
            within C{timeout} seconds.
        @raise OSError: the server cannot be reached.
        """
        commands = [encodeCommand(*args)]
        if self.password is not None:
            commands.insert(0, encodeCommand("AUTH", self.password))
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            sock.sendall(b"".join(commands))
            replies: list[Reply] = []
            parser = ReplyParser()
            deadline = time.monotonic() + timeout
            while len(replies) < len(commands):
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    raise RedisServerError(f"no reply to {args[0]!r} within {timeout}s") from None
                if not data:
                    raise RedisServerError(f"the server closed the connection after {replies!r}")
                replies += parser.feed(data)
        for reply in replies:
            if isinstance(reply, RedisError):
                raise RedisServerError(f"{args[0]!r} failed: {reply.message}")
        return replies[-1]

    def log(self) -> str:
        """What the current (or last) run wrote to its log."""
        return self._process.log() if self._process is not None else ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """
        Stop the server (SIGTERM, SIGKILL after C{timeout} seconds) and
        remove its directory.  Stopping a stopped server does nothing.
        """
        process = self._process
        _running.discard(self)
        if process is None or self._stopped:
            return
        self._stopped = True
        if process.running:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        process._kill()

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """
        Stop the server if it runs, and start a new one (empty) on the same
        port, with the same options; returns once it answers.
        """
        self.stop()
        self._run(timeout)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RedisServer {self.host}:{self.port} {'running' if self.running else 'stopped'}>"


@atexit.register
def _stopForgotten() -> None:
    for server in list(_running):
        server.stop()
