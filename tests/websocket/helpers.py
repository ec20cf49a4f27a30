"""
Fixtures for the WebSocket layer's unit tests: opening handshakes of every
version, client frames, an in-memory transport that records how it was
closed, and L{Peer}, the client end of one connection to
C{Server(WebSocket(app, clock=clock))}.

A peer talks in the domain's words: C{peer.handshake()}, C{peer.sendText(...)},
C{peer.frames()} (what the server sent, decoded), C{peer.closed},
C{peer.aborted}.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent
from twisted.python.failure import Failure
from zope.interface import implementer

from ratchet_tx.commands import SendMessage
from ratchet_tx.server import Server, ServerProtocol
from ratchet_tx.websocket import WebSocket, WebSocketConnection
from ratchet_tx.websocket.codecs import hybi
from ratchet_tx.websocket.codecs.events import Close, Event
from tests.support.apps import LogCapture, RecordingApplication

#: The message limit given to decoders where the test needs no other.
LIMIT = 16 * 2**20

#: The nonce of RFC 6455 section 1.3, and the answer the RFC gives for it.
RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#: The worked example of draft-hixie-thewebsocketprotocol-76 (section 1.3).
SAMPLE_KEY1 = "4 @1  46546xW%0l 1 5"
SAMPLE_KEY2 = "12998 5 Y3 1  .P00"
SAMPLE_KEY3 = b"^n:ds[4U"
SAMPLE_ANSWER = b"8jKS'y:G*Co,Wxa-"

HIXIE_CLOSE = b"\xff\x00"


def acceptFor(key: str) -> str:
    """RFC 6455's C{Sec-WebSocket-Accept} for C{key}, computed independently."""
    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    return base64.b64encode(digest).decode()


def _request(path: str, lines: Iterable[str]) -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/1.1", *lines]) + "\r\n\r\n").encode("latin-1")


def hybiRequest(
    version: int = 13,
    path: str = "/chat",
    *,
    key: str = RFC_KEY,
    host: str = "server.example.com",
    origin: str | None = None,
    subprotocols: Iterable[str] = (),
    extra: Iterable[str] = (),
) -> bytes:
    """
    The opening handshake of an RFC 6455 (13) or HyBi (8, 7) client.  The
    origin goes in C{Origin} for 13 and in C{Sec-WebSocket-Origin} for the
    drafts, as browsers of the time sent it.
    """
    lines = [
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        f"Sec-WebSocket-Version: {version}",
    ]
    if origin is not None:
        lines.append(f"{'Origin' if version == 13 else 'Sec-WebSocket-Origin'}: {origin}")
    offered = list(subprotocols)
    if offered:
        lines.append(f"Sec-WebSocket-Protocol: {', '.join(offered)}")
    lines.extend(extra)
    return _request(path, lines)


def hixie76Request(
    path: str = "/demo",
    *,
    host: str = "example.com",
    origin: str | None = "http://example.com",
    key1: str = SAMPLE_KEY1,
    key2: str = SAMPLE_KEY2,
    protocol: str | None = None,
    extra: Iterable[str] = (),
) -> bytes:
    """The head of a Hixie-76 handshake (the eight key3 bytes follow it)."""
    lines = [
        "Upgrade: WebSocket",
        "Connection: Upgrade",
        f"Host: {host}",
        f"Sec-WebSocket-Key1: {key1}",
        f"Sec-WebSocket-Key2: {key2}",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if protocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    lines.extend(extra)
    return _request(path, lines)


def hixie75Request(
    path: str = "/demo",
    *,
    host: str = "example.com",
    origin: str | None = "http://example.com",
    protocol: str | None = None,
    extra: Iterable[str] = (),
) -> bytes:
    """A Hixie-75 handshake: C{Upgrade: WebSocket}, no version, no keys."""
    lines = ["Upgrade: WebSocket", "Connection: Upgrade", f"Host: {host}"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if protocol is not None:
        lines.append(f"WebSocket-Protocol: {protocol}")
    lines.extend(extra)
    return _request(path, lines)


# Client frames: masked with a fresh key each, as a browser sends them.


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
          masked: bool = True) -> bytes:
    return hybi.encodeFrame(
        opcode, payload, fin=fin, rsv=rsv, mask=os.urandom(4) if masked else None
    )


def textFrame(text: str, *, fin: bool = True) -> bytes:
    return frame(hybi.Opcode.TEXT, text.encode("utf-8"), fin=fin)


def binaryFrame(data: bytes, *, fin: bool = True) -> bytes:
    return frame(hybi.Opcode.BINARY, data, fin=fin)


def continuationFrame(payload: bytes, *, fin: bool = True) -> bytes:
    return frame(hybi.Opcode.CONTINUATION, payload, fin=fin)


def closeFrame(code: int | None = 1000, reason: str = "") -> bytes:
    payload = b"" if code is None else code.to_bytes(2, "big") + reason.encode("utf-8")
    return frame(hybi.Opcode.CLOSE, payload)


def pingFrame(payload: bytes = b"") -> bytes:
    return frame(hybi.Opcode.PING, payload)


def pongFrame(payload: bytes = b"") -> bytes:
    return frame(hybi.Opcode.PONG, payload)


def hixieText(text: str) -> bytes:
    return b"\x00" + text.encode("utf-8") + b"\xff"


def chunks(data: bytes, size: int) -> list[bytes]:
    """C{data} cut into pieces of C{size} bytes (the last one shorter)."""
    return [data[at : at + size] for at in range(0, len(data), size)]


class RecordingTransport(StringTransport):
    """
    An in-memory transport that keeps every C{write} as given (so tests can
    check the identity of frames), counts graceful closes and aborts, and
    reports its disconnection to the protocol at once, as a socket whose
    peer has gone would.
    """

    def __init__(self, peerPort: int = 54321, disconnectAtOnce: bool = True) -> None:
        """
        @param disconnectAtOnce: if false, a graceful close only marks the
            transport as disconnecting, as a socket still flushing its output
            would; L{reportLost} then ends it.
        """
        super().__init__(peerAddress=IPv4Address("TCP", "192.0.2.7", peerPort))
        self.disconnectAtOnce = disconnectAtOnce
        self.writes: list[bytes] = []
        self.loseConnectionCalls = 0
        self.abortConnectionCalls = 0
        self.protocol: ServerProtocol | None = None

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        super().write(data)

    def writeSequence(self, data: Iterable[bytes]) -> None:
        # One call, one write, as on a real transport.
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        self.loseConnectionCalls += 1
        self.disconnecting = True
        if self.disconnectAtOnce:
            self.reportLost()

    def abortConnection(self) -> None:
        self.abortConnectionCalls += 1
        self.disconnecting = True
        self.reportLost()

    def reportLost(self) -> None:
        """The connection is gone: tell the protocol (once)."""
        if self.connected and self.protocol is not None:
            self.connected = False
            self.protocol.connectionLost(Failure(ConnectionDone("closed")))


@implementer(ISSLTransport)
class RecordingTLSTransport(RecordingTransport):
    """A L{RecordingTransport} that says it is TLS (C{wss:})."""

    def getPeerCertificate(self) -> None:
        return None


def echoApplication(**answers: Any) -> RecordingApplication:
    """A recording application that sends every message back to its sender."""
    answers.setdefault("onMessage", lambda conn, message: SendMessage(conn, message))
    return RecordingApplication(**answers)


class Harness:
    """
    One C{Server(WebSocket(app, clock=clock, **options))} and its peers.

    @ivar app: the application (by default an echoing L{RecordingApplication}).
    @ivar clock: the fake clock every timeout of the layer runs on.
    @ivar layer: the L{WebSocket} layer.
    @ivar server: the L{Server} factory.
    """

    def __init__(self, app: Any = None, clock: Clock | None = None, **options: Any) -> None:
        self.app = app if app is not None else echoApplication()
        self.clock = clock if clock is not None else Clock()
        self.layer = WebSocket(self.app, clock=self.clock, **options)
        self.server = Server(self.layer)
        self._ports = iter(range(40000, 60000))

    def connect(self, transport: RecordingTransport | None = None) -> Peer:
        """A new client connection, not yet handshaken."""
        if transport is None:
            transport = RecordingTransport(next(self._ports))
        return Peer(self, transport)

    def open(self, request: bytes | None = None, after: bytes = b"", **kw: Any) -> Peer:
        """A new client connection whose handshake succeeded."""
        peer = self.connect(**kw)
        response = peer.handshake(request, after)
        if response.status != 101:
            raise AssertionError(f"handshake refused: {response}")
        return peer

    def openHixie76(self, **kw: Any) -> Peer:
        peer = self.connect(**kw)
        peer.receive(hixie76Request() + SAMPLE_KEY3)
        response = peer.response()
        if response.status != 101 or response.body != SAMPLE_ANSWER:
            raise AssertionError(f"Hixie-76 handshake failed: {response}")
        return peer

    def openHixie75(self, **kw: Any) -> Peer:
        return self.open(hixie75Request(), **kw)


class Response:
    """An HTTP response the server wrote: status, headers, body."""

    def __init__(self, raw: bytes) -> None:
        head, sep, self.body = raw.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError(f"no complete response head in {raw!r}")
        lines = head.decode("latin-1").split("\r\n")
        self.statusLine = lines[0]
        _, status, self.reason = self.statusLine.split(" ", 2)
        self.status = int(status)
        self.headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.append((name, value.strip()))
        self.raw = raw

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    def __repr__(self) -> str:
        return f"<Response {self.raw!r}>"


class Peer:
    """
    The client end of one in-memory connection to a L{Harness}'s server.

    @ivar transport: the server's L{RecordingTransport}.
    @ivar proto: the server's protocol for this connection.
    """

    def __init__(self, harness: Harness, transport: RecordingTransport) -> None:
        self.harness = harness
        self.transport = transport
        self.proto = harness.server.buildProtocol(transport.getPeer())
        transport.protocol = self.proto
        self.proto.makeConnection(transport)
        self._decoder = hybi.FrameDecoder(maxMessageSize=LIMIT, expectMasked=False)
        self._read = 0
        self._view: WebSocketConnection | None = None
        view = self.proto.connection.view
        if isinstance(view, WebSocketConnection):
            self._view = view

    @property
    def conn(self) -> WebSocketConnection:
        """
        The connection as the application sees it (remembered: once the
        connection is lost, the transport's connection forgets its views).
        """
        view = self.proto.connection.view
        if isinstance(view, WebSocketConnection):
            self._view = view
        assert self._view is not None, "no WebSocket view yet"
        return self._view

    def receive(self, data: bytes, chunkSize: int | None = None) -> None:
        """The server reads C{data}, in pieces of C{chunkSize} bytes if given."""
        for piece in [data] if chunkSize is None else chunks(data, chunkSize):
            self.proto.dataReceived(piece)

    def output(self) -> bytes:
        """What the server wrote since the last call."""
        value = self.transport.value()
        data = value[self._read :]
        self._read = len(value)
        return data

    def response(self) -> Response:
        """The HTTP response the server wrote (reading all its output)."""
        return Response(self.output())

    def handshake(self, request: bytes | None = None, after: bytes = b"",
                  chunkSize: int | None = None) -> Response:
        self.receive((request if request is not None else hybiRequest()) + after, chunkSize)
        return self.response()

    # Frames.

    def sendText(self, text: str) -> None:
        self.receive(textFrame(text))

    def sendBinary(self, data: bytes) -> None:
        self.receive(binaryFrame(data))

    def sendClose(self, code: int | None = 1000, reason: str = "") -> None:
        self.receive(closeFrame(code, reason))

    def frames(self) -> list[Event]:
        """The frames the server wrote since the last call, decoded."""
        return self._decoder.feed(self.output())

    def hixieFrames(self) -> list[str | Close]:
        """The Hixie frames the server wrote since the last call, decoded."""
        data = self.output()
        events: list[str | Close] = []
        while data:
            if data[:1] == b"\x00":
                end = data.index(b"\xff")
                events.append(data[1:end].decode("utf-8"))
                data = data[end + 1 :]
            elif data[:2] == HIXIE_CLOSE:
                events.append(Close())
                data = data[2:]
            else:
                raise AssertionError(f"not a Hixie frame from a server: {data!r}")
        return events

    # How the connection ended.

    @property
    def closed(self) -> bool:
        """The server closed (or aborted) the TCP connection."""
        return self.transport.loseConnectionCalls + self.transport.abortConnectionCalls > 0

    @property
    def aborted(self) -> bool:
        return self.transport.abortConnectionCalls > 0


def logMessages(capture: LogCapture) -> list[str]:
    """Every captured log event, formatted as a line of text."""
    return [formatEvent(event) or "" for event in capture.events]


def loggedLines(capture: LogCapture, *needles: str) -> list[str]:
    """The captured log lines that contain every one of C{needles}."""
    return [
        line for line in logMessages(capture) if all(needle in line for needle in needles)
    ]
