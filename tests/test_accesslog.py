"""
Tests for L{ratchet_tx.accesslog}: the line of each finished connection,
for WebSocket and plain TCP, on real loopback sockets, and through
C{twistd ratchet --access-log}.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tempfile
import time
from types import SimpleNamespace
from typing import Any

from twisted.internet import reactor
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.task import deferLater
from twisted.trial.unittest import SynchronousTestCase, TestCase

from ratchet_tx.accesslog import AccessLog, formatAddress
from ratchet_tx.client import connect
from ratchet_tx.commands import SendMessage
from ratchet_tx.server import Server
from ratchet_tx.websocket import WebSocket
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion
from tests.support.apps import RecordingApplication
from tests.support.twistd import TwistdProcess

#: 2026-12-02T05:40:01.123Z
NOON = 1796190001.123

LINE = re.compile(
    r"^(?P<when>\S+) (?P<peer>\S+) (?P<protocol>\S+) (?P<path>\S+) sub=(?P<sub>\S+) "
    r"duration=(?P<duration>[0-9.]+) in=(?P<in>\S+) out=(?P<out>\S+) "
    r"close=(?P<close>\S+) reason=(?P<reason>\".*\")$"
)


def parse(line: str) -> dict[str, str]:
    match = LINE.match(line)
    assert match is not None, f"not an access log line: {line!r}"
    return match.groupdict()


class LineTests(SynchronousTestCase):
    def line(self, **attributes: Any) -> str:
        conn = SimpleNamespace(remoteAddress=IPv4Address("TCP", "127.0.0.1", 5000))
        conn.__dict__.update(attributes)
        return AccessLog(io.StringIO(), clock=lambda: NOON).line(conn, 1.5)  # type: ignore[arg-type]

    def test_webSocket(self) -> None:
        line = self.line(
            version=WebSocketVersion.HIXIE_76,
            path="/chat",
            subprotocol="chat.v1",
            closeCode=1000,
            closeReason="bye",
            messagesIn=3,
            messagesOut=4,
        )
        self.assertEqual(
            line,
            "2026-12-02T05:40:01.123Z 127.0.0.1:5000 hixie-76 /chat sub=chat.v1 "
            'duration=1.500 in=3 out=4 close=1000 reason="bye"',
        )

    def test_plainTCP(self) -> None:
        fields = parse(self.line(messagesIn=2, messagesOut=2))
        self.assertEqual(
            (fields["protocol"], fields["path"], fields["sub"], fields["close"]),
            ("tcp", "-", "-", "-"),
        )

    def test_neverOpened(self) -> None:
        fields = parse(self.line(version=None, path="", closeCode=1006, closeReason=""))
        self.assertEqual((fields["protocol"], fields["close"]), ("-", "1006"))

    def test_whatPeersChoseStaysOneToken(self) -> None:
        line = self.line(
            version=WebSocketVersion.RFC6455,
            path='/a b"\n\x00é',
            subprotocol="x y",
            closeCode=4000,
            closeReason='line\nbreak "quoted"',
        )
        self.assertNotIn("\n", line)
        fields = parse(line)
        self.assertEqual(json.loads(fields["reason"]), 'line\nbreak "quoted"')
        self.assertNotIn(" ", fields["path"])
        self.assertNotIn(" ", fields["sub"])

    def test_addresses(self) -> None:
        self.assertEqual(formatAddress(IPv6Address("TCP", "::1", 80)), "[::1]:80")
        self.assertEqual(formatAddress(UNIXAddress(b"/run/ws.sock")), "/run/ws.sock")
        self.assertEqual(formatAddress(None), "-")

    def test_writesAndFlushesALine(self) -> None:
        out = io.StringIO()
        conn = SimpleNamespace(remoteAddress=IPv4Address("TCP", "10.0.0.1", 1))
        AccessLog(out, clock=lambda: NOON).connectionEnded(conn, 0.25)  # type: ignore[arg-type]
        [line] = out.getvalue().splitlines()
        self.assertEqual(parse(line)["duration"], "0.250")


class ServerTests(TestCase):
    timeout = 20

    def listen(self, factory: Server) -> int:
        port = self.successResultOf(
            TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(factory)
        )
        self.addCleanup(port.stopListening)
        return port.getHost().port

    @inlineCallbacks
    def waitForLines(self, out: io.StringIO, count: int) -> Any:
        for _ in range(500):
            lines = out.getvalue().splitlines()
            if len(lines) >= count:
                return lines
            yield deferLater(reactor, 0.01, lambda: None)
        self.fail(f"no access log lines: {out.getvalue()!r}")

    @inlineCallbacks
    def test_aWebSocketConnection(self) -> Any:
        out = io.StringIO()
        echo = RecordingApplication(onMessage=lambda conn, m: SendMessage(conn, m))
        server = Server(WebSocket(echo, subprotocols=("chat",)), accessLog=AccessLog(out))
        port = self.listen(server)
        received: Deferred[None] = Deferred()
        client = RecordingApplication(
            onMessage=lambda conn, m: None if received.called else received.callback(None)
        )
        conn = yield connect(
            reactor, f"ws://127.0.0.1:{port}/room?token=secret", client, subprotocols=("chat",)
        )
        conn.send("one")
        conn.send("two")
        yield received
        conn.close(4001, "done here")
        [line] = yield self.waitForLines(out, 1)
        fields = parse(line)
        self.assertEqual(fields["peer"], f"127.0.0.1:{conn.localAddress.port}")
        self.assertEqual(fields["protocol"], "rfc6455")
        self.assertEqual(fields["path"], "/room", "never the query, which may hold tokens")
        self.assertEqual(fields["sub"], "chat")
        self.assertEqual((fields["in"], fields["out"]), ("2", "2"))
        self.assertEqual(fields["close"], "4001")
        self.assertEqual(json.loads(fields["reason"]), "done here")

    @inlineCallbacks
    def test_aPlainTCPConnection(self) -> Any:
        out = io.StringIO()
        echo = RecordingApplication(onMessage=lambda conn, m: SendMessage(conn, m))
        port = self.listen(Server(echo, accessLog=AccessLog(out)))
        received: Deferred[None] = Deferred()
        client = RecordingApplication(onMessage=lambda conn, m: received.callback(None))
        conn = yield connect(reactor, f"tcp://127.0.0.1:{port}", client)
        conn.send(b"ping")
        yield received
        conn.close()
        [line] = yield self.waitForLines(out, 1)
        fields = parse(line)
        self.assertEqual((fields["protocol"], fields["in"], fields["out"]), ("tcp", "1", "1"))


class CommandLineTests(SynchronousTestCase):
    def test_twistdWritesTheAccessLog(self) -> None:
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "access.log")
        proc = TwistdProcess.start("--app", "ratchet_tx.examples.echo:Echo", "--access-log", path)
        self.addCleanup(proc.stop)
        from websockets.sync.client import connect as websocketsConnect

        with websocketsConnect(f"ws://127.0.0.1:{proc.port}/echo") as ws:
            ws.send("hello")
            self.assertEqual(ws.recv(timeout=5), "hello")
        for _ in range(500):
            try:
                text = open(path, encoding="utf-8").read()
            except FileNotFoundError:
                text = ""
            if text.endswith("\n"):
                break
            time.sleep(0.01)
        [line] = text.splitlines()
        fields = parse(line)
        self.assertEqual((fields["protocol"], fields["path"]), ("rfc6455", "/echo"))
        self.assertEqual((fields["in"], fields["out"], fields["close"]), ("1", "1", "1000"))

    def test_anUnwritableFileIsRefused(self) -> None:
        from twisted.python.usage import UsageError

        from ratchet_tx.tap import Options

        error = self.assertRaises(
            UsageError, Options().parseOptions, ["--access-log", "/nonexistent/dir/access.log"]
        )
        self.assertIn("--access-log /nonexistent/dir/access.log", str(error))
