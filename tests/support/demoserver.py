"""
Small web servers in a subprocess, for the browser tests: the test process
blocks while it drives the browser, so the server needs a reactor of its own.

    python -m tests.support.demoserver demo [PORT]
        the built-in demo: demoResource()
    python -m tests.support.demoserver static DIRECTORY [PORT]
        a static site of DIRECTORY with ratchet_tx.examples.echo:Echo at /echo

on PORT of the loopback interface (by default 0: a free one).

Each prints C{listening on PORT} once it serves, and stops on SIGTERM.
L{ServerProcess.start} runs one and returns once it listens; like
L{tests.support.twistd.TwistdProcess} it has C{port} and C{stop()}.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.twistd import REPO_ROOT, LoggedProcess, TwistdError, twistdEnvironment

_LISTENING = re.compile(r"listening on (\d+)")

_POLL_INTERVAL = 0.02


class ServerProcess(LoggedProcess):
    """
    A running C{python -m tests.support.demoserver ...}.

    @ivar port: the loopback TCP port it listens on.
    """

    port: int

    @classmethod
    def start(cls, *args: str, timeout: float = 20.0) -> ServerProcess:
        """
        Start the server and wait (at most C{timeout} seconds) until it listens.

        @raise TwistdError: it exited or did not listen in time (it is killed
            first); the message holds its output.
        """
        logPath = Path(tempfile.mkdtemp(prefix="ratchet-demoserver-")) / "server.log"
        with open(logPath, "wb") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "tests.support.demoserver", *args],
                cwd=REPO_ROOT,
                env=twistdEnvironment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc = cls(popen, logPath)
        deadline = time.monotonic() + timeout
        while True:
            found = _LISTENING.search(proc.log())
            if found:
                proc.port = int(found.group(1))
                return proc
            if popen.poll() is not None or time.monotonic() > deadline:
                proc.stop()
                raise TwistdError(f"the server did not listen within {timeout}s:\n{proc.log()}")
            time.sleep(_POLL_INTERVAL)

    def stop(self, timeout: float = 10.0) -> int:
        """Terminate the server (SIGKILL if it does not exit in time)."""
        if self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._finish()
        return self._popen.returncode

    def __repr__(self) -> str:
        return f"<ServerProcess pid={self.pid} port={getattr(self, 'port', None)}>"


def _site(args: list[str]) -> tuple[object, int]:
    """The site the command line asks for, and its port."""
    from twisted.web.resource import Resource
    from twisted.web.server import Site
    from twisted.web.static import File

    from ratchet_tx.demo import demoResource
    from ratchet_tx.examples.echo import Echo
    from ratchet_tx.web import WebSocketResource

    root: Resource
    if args[:1] == ["demo"] and len(args) <= 2:
        root, _ = demoResource()
        port = args[1:]
    elif args[:1] == ["static"] and 2 <= len(args) <= 3:
        root = File(args[1])
        root.putChild(b"echo", WebSocketResource(Echo()))
        port = args[2:]
    else:
        raise SystemExit(__doc__)
    return Site(root), int(port[0]) if port else 0


def main(args: list[str]) -> None:
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from tests.support.transport import serverFromString

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    site, port = _site(args)

    def listening(listeningPort) -> None:
        print(f"listening on {listeningPort.getHost().port}", flush=True)

    def failed(failure) -> None:
        print(f"could not listen: {failure.getErrorMessage()}", flush=True)
        reactor.stop()

    endpoint = serverFromString(reactor, f"tcp:{port}:interface=127.0.0.1")
    endpoint.listen(site).addCallbacks(listening, failed)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
