"""
Interop: ratchet_tx's client against servers no one here wrote, on loopback:
Python's C{websockets} (asyncio, in a subprocess), Autobahn|Python (Twisted,
in process) and node's C{ws} (installed with npm into a cache directory the
first time).  Each echoes text, binary, a large message and a fragmented
one, with permessage-deflate on and off, and closes with the code asked for
either way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredQueue, inlineCallbacks
from twisted.trial.unittest import TestCase

from ratchet_tx.client import connect
from tests.support.apps import RecordingApplication
from tests.support.system import requirePackage

PEERS = Path(__file__).resolve().parent / "peers"
#: Where node's C{ws} is installed for these tests.
NODE_CACHE = Path(
    os.environ.get("RATCHET_TX_NODE_CACHE", Path.home() / ".cache" / "ratchet_tx-tests" / "node")
)
WS_VERSION = "8"
LARGE = 1 << 20
TIMEOUT = 20.0


def nodeWs() -> Path:
    """The C{node_modules} holding C{ws}, installed with npm if missing."""
    requirePackage("nodejs", "the interop tests with node's ws")
    requirePackage("npm", "the interop tests with node's ws")
    modules = NODE_CACHE / "node_modules"
    if not (modules / "ws" / "package.json").exists():
        NODE_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(NODE_CACHE),
                f"ws@{WS_VERSION}",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=300,
        )
    return modules


class _Peer:
    """A server in a subprocess that prints its port first."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, env={**os.environ, **(env or {})}
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip():
            self.stop()
            raise AssertionError(f"{command[:2]} did not start")
        self.port = int(line)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


class _Client(RecordingApplication):
    """Queues the messages received; C{closed} fires with the connection in onClose."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: DeferredQueue[str | bytes] = DeferredQueue()
        self.closed: Deferred[Any] = Deferred()

    def onMessage(self, conn: Any, message: str | bytes) -> Any:
        self.messages.put(message)

    def onClose(self, conn: Any) -> Any:
        super().onClose(conn)
        self.closed.callback(conn)


class InteropMixin:
    """The same conversation with every server; a subclass says how to start it."""

    deflate = True

    def startServer(self) -> int:
        raise NotImplementedError

    @inlineCallbacks
    def talk(self, *messages: str | bytes, expected: list[str | bytes] | None = None) -> Any:
        test: Any = self
        port = self.startServer()
        app = _Client()
        conn = yield connect(
            reactor, f"ws://127.0.0.1:{port}/", app, deflate=self.deflate, maxMessageSize=4 * LARGE
        )
        test.addCleanup(self.closeQuietly, conn, app)
        test.assertEqual(conn.extensions is not None, self.deflate)
        for message in messages:
            conn.send(message)
        for message in expected if expected is not None else messages:
            answer = yield app.messages.get().addTimeout(TIMEOUT, reactor)
            test.assertEqual(answer, message)
        return conn, app

    @inlineCallbacks
    def closeQuietly(self, conn: Any, app: _Client) -> Any:
        """Close C{conn} unless it is closed, and wait until both ends are gone."""
        if not app.closed.called:
            conn.close()
        yield app.closed.addTimeout(TIMEOUT, reactor)
        settled: Deferred[None] = Deferred()
        reactor.callLater(0.05, settled.callback, None)
        yield settled

    def test_text(self) -> Any:
        return self.talk("hello", "", "h\u00e9llo \u2603")

    def test_binary(self) -> Any:
        return self.talk(b"\x00\xff\x80", b"")

    def test_large(self) -> Any:
        return self.talk(os.urandom(LARGE), "x" * LARGE)

    def test_fragmented(self) -> Any:
        return self.talk("frag:a fragmented message \u2603 of some length")

    @inlineCallbacks
    def test_clientCloses(self) -> Any:
        test: Any = self
        conn, app = yield self.talk("before")
        conn.close(4002, "done")
        closed = yield app.closed.addTimeout(TIMEOUT, reactor)
        test.assertEqual(closed.closeCode, 4002)
        test.assertEqual(app.callbacks(), ["onOpen", "onClose"])

    @inlineCallbacks
    def test_serverCloses(self) -> Any:
        test: Any = self
        conn, app = yield self.talk("close:4001", expected=[])
        closed = yield app.closed.addTimeout(TIMEOUT, reactor)
        test.assertEqual((closed.closeCode, closed.closeReason), (4001, "asked"))


class _SubprocessServer(InteropMixin):
    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def startServer(self) -> int:
        command, env = self.command()
        if not self.deflate:
            command.append("--no-deflate")
        peer = _Peer(command, env)
        test: Any = self
        test.addCleanup(peer.stop)
        return peer.port


class WebsocketsTests(_SubprocessServer, TestCase):
    def command(self) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, str(PEERS / "websockets_echo.py")], {}


class WebsocketsNoDeflateTests(WebsocketsTests):
    deflate = False


class NodeWsTests(_SubprocessServer, TestCase):
    def command(self) -> tuple[list[str], dict[str, str]]:
        return ["node", str(PEERS / "ws_echo.js")], {"NODE_PATH": str(nodeWs())}


class NodeWsNoDeflateTests(NodeWsTests):
    deflate = False


class AutobahnTests(InteropMixin, TestCase):
    def startServer(self) -> int:
        from tests.client.peers.autobahn_echo import listen

        port = listen(self.deflate)
        self.addCleanup(port.stopListening)
        return int(port.getHost().port)


class AutobahnNoDeflateTests(AutobahnTests):
    deflate = False
