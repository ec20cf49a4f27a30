"""
Bad input from a server, on real loopback sockets: L{ratchet_tx.client.connect}
fails with the right error, or the connection closes with the right code,
with one log line, and nothing is left behind (trial's dirty-reactor check
fails a test that leaves a socket or a DelayedCall).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.error import TimeoutError
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.trial.unittest import TestCase

from ratchet_tx.client import InvalidHandshakeResponse, connect
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from tests.support.apps import LogCapture, RecordingApplication

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def acceptFor(request: bytes) -> bytes:
    """The right C{Sec-WebSocket-Accept} for an RFC 6455 request."""
    for line in request.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            return base64.b64encode(hashlib.sha1(value.strip() + GUID).digest())
    raise AssertionError(f"no key in {request!r}")


def opened(request: bytes, frames: bytes = b"") -> bytes:
    """A correct 101 answer to C{request}, then C{frames}."""
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acceptFor(request) + b"\r\n\r\n"
    ) + frames


class BadServer(Protocol):
    """Reads the request's head (and C{extra} bytes), then answers C{answer(request)}."""

    def __init__(self, answer: Callable[[bytes], bytes] | None, extra: int) -> None:
        self.answer = answer
        self.extra = extra
        self.received = b""
        self.answered = False

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        head, found, rest = self.received.partition(b"\r\n\r\n")
        if self.answered or not found or len(rest) < self.extra or self.answer is None:
            return
        self.answered = True
        cast(Any, self.transport).write(self.answer(head + found + rest[: self.extra]))

    def afterHandshake(self) -> bytes:
        """What the client sent after its request."""
        return self.received.partition(b"\r\n\r\n")[2][self.extra :]


class BadServerTests(TestCase):
    def setUp(self) -> None:
        self.log = LogCapture(self)

    @property
    def logged(self) -> list[dict[str, Any]]:
        """The log lines of ratchet_tx so far."""
        return [e for e in self.log.events if e.get("log_namespace", "").startswith("ratchet_tx")]

    def serve(
        self, answer: Callable[[bytes], bytes] | None, extra: int = 0
    ) -> tuple[str, list[BadServer]]:
        servers: list[BadServer] = []

        def build() -> BadServer:
            server = BadServer(answer, extra)
            servers.append(server)
            return server

        port = cast(Any, reactor).listenTCP(
            0, ServerFactory.forProtocol(build), interface="127.0.0.1"
        )
        self.addCleanup(port.stopListening)

        def dropAll() -> None:
            for server in servers:
                if server.transport is not None:
                    cast(Any, server.transport).abortConnection()

        self.addCleanup(dropAll)
        return f"ws://127.0.0.1:{cast(Any, port.getHost()).port}/", servers

    @inlineCallbacks
    def refusedWith(self, error: type[Exception], answer: Any, message: str, **kw: Any) -> Any:
        url, _ = self.serve(answer, extra=kw.pop("extra", 0))
        lines = kw.pop("lines", 1)
        app = RecordingApplication()
        failure = yield self.assertFailure(connect(reactor, url, app, **kw), error)
        self.assertIn(message, str(failure))
        self.assertEqual(app.callbacks(), [])
        self.assertEqual(len(self.logged), lines, self.logged)
        yield self.settle()
        # Nothing more once the connection is gone: one failure, one line.
        self.assertEqual(len(self.logged), lines, self.logged)

    def settle(self) -> Deferred[None]:
        """A turn of the reactor, so the aborted sockets are really gone."""
        d: Deferred[None] = Deferred()
        reactor.callLater(0.05, d.callback, None)
        return d

    def test_wrongAccept(self) -> Any:
        return self.refusedWith(
            InvalidHandshakeResponse,
            lambda request: opened(
                request.replace(b"Sec-WebSocket-Key: ", b"Sec-WebSocket-Key: x")
            ),
            "wrong Sec-WebSocket-Accept",
        )

    def test_wrongHixie76Answer(self) -> Any:
        def answer(request: bytes) -> bytes:
            port = request.split(b"Host: 127.0.0.1:")[1].split(b"\r\n")[0]
            return (
                b"HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Location: ws://127.0.0.1:"
                + port
                + b"/\r\n\r\n"
                + b"0123456789abcdef"
            )

        return self.refusedWith(
            InvalidHandshakeResponse,
            answer,
            "wrong answer to the Hixie-76 challenge",
            version="hixie-76",
            extra=8,
        )

    def test_noUpgrade(self) -> Any:
        return self.refusedWith(
            InvalidHandshakeResponse,
            lambda request: opened(request).replace(b"Upgrade: websocket\r\n", b""),
            "Upgrade",
        )

    def test_oversizedHead(self) -> Any:
        return self.refusedWith(
            InvalidHandshakeResponse,
            lambda request: b"HTTP/1.1 101 Switching Protocols\r\nX-Big: " + b"x" * 8192,
            "",
            maxHandshakeSize=4096,
        )

    def test_neverAnswers(self) -> Any:
        return self.refusedWith(TimeoutError, None, "", handshakeTimeout=0.2)

    @inlineCallbacks
    def closedWith(self, code: int, frames: bytes) -> Any:
        url, servers = self.serve(lambda request: opened(request, frames))
        closed: Deferred[Any] = Deferred()
        app = RecordingApplication(onClose=closed.callback)
        yield connect(reactor, url, app, closeTimeout=0.5)
        conn = yield closed
        self.assertEqual(conn.closeCode, code)
        yield self.settle()
        [server] = servers
        sent = server.afterHandshake()
        # The client's close frame: FIN+close, masked, the code first.
        self.assertEqual(sent[0], 0x88)
        mask, payload = sent[2:6], sent[6 : 6 + (sent[1] & 0x7F)]
        unmasked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.assertEqual(int.from_bytes(unmasked[:2], "big"), code)
        self.assertEqual(app.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(len(self.logged), 1, self.logged)

    def test_maskedServerFrame(self) -> Any:
        mask = b"\x01\x02\x03\x04"
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"hi"))
        return self.closedWith(CloseCode.PROTOCOL_ERROR, b"\x81\x82" + mask + payload)

    def test_invalidUTF8(self) -> Any:
        return self.closedWith(CloseCode.INVALID_PAYLOAD, b"\x81\x02\xc3\x28")
