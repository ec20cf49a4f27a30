"""
Blocking WebSocket clients over real sockets, for integration tests: one per
generation of the protocol a browser ever spoke.

    client = HybiClient(proc.port, version=13, path="/chat")
    client.send("hello")
    assert client.recv() == "hello"
    assert client.close(1000, "bye") == Close(1000, "bye")

  - L{HybiClient}: RFC 6455 (C{version=13}), HyBi-10 (C{8}) and HyBi-07
    (C{7}), framed with L{ratchet_tx.websocket.codecs.hybi} from the client's
    side: every frame masked with a fresh random key, and a decoder that
    refuses masked frames from the server.
  - L{Hixie76Client}: draft-hixie-thewebsocketprotocol-76, the handshake with
    the two hidden key numbers and the eight-byte challenge.
  - L{Hixie75Client}: draft-hixie-thewebsocketprotocol-75, no challenge.

Each client checks the server's answer the way a browser of its time would,
and raises L{HandshakeRefused} (holding the L{HandshakeResponse}) if the
server answered with another status than 101.  Every wait is bounded by a
timeout, so a misbehaving server fails a test instead of hanging it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ratchet_tx.websocket.codecs import hybi
from ratchet_tx.websocket.codecs.events import Close, Event, Ping, Pong

#: How long any single wait of a client may take, in seconds, by default.
DEFAULT_TIMEOUT = 5.0

#: The largest frame and message the HyBi client accepts from the server.
DEFAULT_MAX_SIZE = 64 * 2**20

#: The largest response head a client reads before giving up.
MAX_RESPONSE_HEAD = 64 * 1024

#: RFC 6455 section 1.3: appended to the key before hashing.
ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

_HEAD_END = b"\r\n\r\n"
_READ_SIZE = 65536

# Hixie framing: a text frame is 0x00, UTF-8, 0xFF; the close is 0xFF 0x00.
_HIXIE_TEXT_START = b"\x00"
_HIXIE_FRAME_END = b"\xff"
_HIXIE_CLOSE = b"\xff\x00"

# draft-hixie-thewebsocketprotocol-76, section 4.1, the client's keys.
#: The most spaces a key holds (and the fewest: 1).
_HIXIE_MAX_SPACES = 12
#: The most noise characters inserted into a key (and the fewest: 1).
_HIXIE_MAX_NOISE = 12
#: The largest value of a key's product (number times spaces).
_HIXIE_MAX_PRODUCT = 4_294_967_295
#: The noise characters: U+0021 to U+002F and U+003A to U+007E, i.e.
#: printable ASCII that is neither a digit nor a space.
_HIXIE_NOISE = "".join(chr(c) for c in range(0x21, 0x30)) + "".join(
    chr(c) for c in range(0x3A, 0x7F)
)
#: Length of the random bytes (key3) sent after the request head.
_HIXIE_KEY3_LENGTH = 8
#: Length of the server's answer to the challenge (an MD5 digest).
_HIXIE_ANSWER_LENGTH = 16
_HIXIE_NUMBERS = struct.Struct(">II")

_HIXIE_76_STATUS_LINE = "HTTP/1.1 101 WebSocket Protocol Handshake"
#: A Hixie-75 client compares the first three lines of the answer literally.
_HIXIE_75_PREFIX = (
    b"HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
)


class ClientError(AssertionError):
    """A test client saw the server do something it should not have."""


class ReceiveTimeout(ClientError):
    """Nothing (or not enough) arrived in time."""


class ConnectionClosed(ClientError):
    """The server closed the TCP connection while the client waited for more."""


class HandshakeRefused(ClientError):
    """
    The server answered the opening handshake with a status other than 101.

    @ivar response: the L{HandshakeResponse}, body included.
    """

    def __init__(self, response: HandshakeResponse) -> None:
        super().__init__(f"handshake refused: {response.status} {response.reason}")
        self.response = response


@dataclass
class HandshakeResponse:
    """
    The server's answer to an opening handshake.

    @ivar status: the status code, e.g. 101.
    @ivar reason: the reason phrase.
    @ivar headers: the header fields, in order, as sent.
    @ivar body: the body (a refusal's explanation; Hixie-76's 16-byte answer).
    @ivar head: the response head exactly as received, blank line included.
    """

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    head: bytes

    def header(self, name: str) -> str | None:
        """The value of the field C{name} (case-insensitive), or C{None}."""
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ", ".join(values) if values else None


def _headerLines(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> list[str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [f"{name}: {value}" for name, value in items]


def _parseHead(head: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    statusLine = lines[0]
    protocol, _, rest = statusLine.partition(" ")
    code, _, reason = rest.partition(" ")
    if not protocol.startswith("HTTP/") or not code.isdigit():
        raise ClientError(f"not an HTTP response: {statusLine!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ClientError(f"malformed header line {line!r}")
        headers.append((name, value.strip()))
    return int(code), reason, headers


class _Stream:
    """
    A blocking socket with a read buffer, every read bounded by a deadline.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.eof = False

    def _fill(self, deadline: float) -> None:
        """Read once more into the buffer, or raise."""
        if self.eof:
            raise ConnectionClosed(f"connection closed; unread: {self.buffer!r}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReceiveTimeout(f"timed out; unread: {self.buffer[:200]!r}")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(_READ_SIZE)
        except TimeoutError:
            raise ReceiveTimeout(f"timed out; unread: {self.buffer[:200]!r}") from None
        if not chunk:
            self.eof = True
            raise ConnectionClosed(f"connection closed; unread: {self.buffer!r}")
        self.buffer += chunk

    def readSome(self, timeout: float) -> bytes:
        """Everything buffered, waiting for at least one byte if there is none."""
        if not self.buffer:
            self._fill(time.monotonic() + timeout)
        data, self.buffer = self.buffer, b""
        return data

    def readExactly(self, size: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.buffer) < size:
            self._fill(deadline)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def readUntil(self, marker: bytes, timeout: float, limit: int) -> bytes:
        """The bytes up to and including C{marker}."""
        deadline = time.monotonic() + timeout
        while True:
            at = self.buffer.find(marker)
            if at != -1:
                end = at + len(marker)
                data, self.buffer = self.buffer[:end], self.buffer[end:]
                return data
            if len(self.buffer) > limit:
                raise ClientError(f"no {marker!r} in the first {limit} bytes")
            self._fill(deadline)

    def readToEof(self, timeout: float) -> bytes:
        """Everything until the peer closes; a reset raises L{ConnectionResetError}."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._fill(deadline)
            except ConnectionClosed:
                break
        data, self.buffer = self.buffer, b""
        return data


class _Client:
    """
    What every client shares: the socket, the handshake response, cleanup.

    @ivar handshakeResponse: the server's answer to the opening handshake.
    """

    handshakeResponse: HandshakeResponse

    def __init__(self, port: int, host: str, timeout: float) -> None:
        self.port = port
        self.host = host
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._stream = _Stream(self.sock)

    def _sendHandshake(self, request: bytes, after: bytes = b"") -> None:
        self.sock.sendall(request + after)

    def _readResponse(self, bodyLength: int = 0) -> HandshakeResponse:
        """
        Read the response head; then C{bodyLength} bytes for a 101, or the
        refusal's body (by its C{Content-Length}, else up to the close).
        """
        stream = self._stream
        try:
            head = stream.readUntil(_HEAD_END, self.timeout, MAX_RESPONSE_HEAD)
        except ClientError:
            self.abort()
            raise
        status, reason, headers = _parseHead(head[: -len(_HEAD_END)])
        response = HandshakeResponse(status, reason, headers, b"", head)
        if status != 101:
            length = response.header("content-length")
            try:
                if length is not None and length.isdigit():
                    response.body = stream.readExactly(int(length), self.timeout)
                else:
                    response.body = stream.readToEof(self.timeout)
            finally:
                self.abort()
            raise HandshakeRefused(response)
        if bodyLength:
            response.body = stream.readExactly(bodyLength, self.timeout)
        self.handshakeResponse = response
        return response

    def sendRaw(self, data: bytes) -> None:
        """Write bytes exactly as given."""
        self.sock.sendall(data)

    def waitForEof(self, timeout: float | None = None) -> bytes:
        """
        Read until the server closes the TCP connection; return what arrived.

        @raise ReceiveTimeout: it was still open after C{timeout} seconds.
        """
        return self._stream.readToEof(self.timeout if timeout is None else timeout)

    def abort(self) -> None:
        """Close the socket at once, without any closing handshake."""
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *excInfo: object) -> None:
        self.abort()


class HybiClient(_Client):
    """
    An RFC 6455 (C{version=13}), HyBi-10 (C{8}) or HyBi-07 (C{7}) client.

    @param port: the server's port on C{host}.
    @param version: the C{Sec-WebSocket-Version} to send.
    @param path: the request-target, query included.
    @param headers: more header fields to send (a mapping or pairs).
    @param subprotocols: the sub-protocols to offer, in order.
    @param origin: the origin to declare: in C{Origin} for version 13, in
        C{Sec-WebSocket-Origin} for the HyBi drafts, as those browsers did.
    @raise HandshakeRefused: the server did not answer 101.
    @raise ClientError: the 101 answer is not valid for this version.

    @ivar subprotocol: the sub-protocol the server chose, or C{None}.
    @ivar closeReceived: the server's L{Close}, once it arrived.
    """

    def __init__(
        self,
        port: int,
        version: int = 13,
        path: str = "/",
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        subprotocols: Iterable[str] = (),
        origin: str | None = None,
        host: str = "127.0.0.1",
        timeout: float = DEFAULT_TIMEOUT,
        maxSize: int = DEFAULT_MAX_SIZE,
    ) -> None:
        super().__init__(port, host, timeout)
        self.version = version
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        offered = list(subprotocols)
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            f"Sec-WebSocket-Version: {version}",
        ]
        if origin is not None:
            lines.append(f"{'Origin' if version == 13 else 'Sec-WebSocket-Origin'}: {origin}")
        if offered:
            lines.append(f"Sec-WebSocket-Protocol: {', '.join(offered)}")
        lines.extend(_headerLines(headers))
        self._sendHandshake(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        response = self._readResponse()
        self._checkAccept(response, key, offered)
        self.subprotocol = response.header("sec-websocket-protocol")
        self.closeReceived: Close | None = None
        self._closeSent = False
        self._events: deque[Event] = deque()
        self._decoder = hybi.FrameDecoder(
            maxFrameSize=maxSize, maxMessageSize=maxSize, expectMasked=False
        )
        # Frames the server sent right behind its 101 answer.
        leftover, self._stream.buffer = self._stream.buffer, b""
        if leftover:
            self._events.extend(self._decoder.feed(leftover))

    def _checkAccept(self, response: HandshakeResponse, key: str, offered: list[str]) -> None:
        expected = base64.b64encode(hashlib.sha1(key.encode("ascii") + ACCEPT_GUID).digest())
        problems = []
        if (response.header("upgrade") or "").lower() != "websocket":
            problems.append(f"Upgrade is {response.header('upgrade')!r}")
        if "upgrade" not in (response.header("connection") or "").lower():
            problems.append(f"Connection is {response.header('connection')!r}")
        if response.header("sec-websocket-accept") != expected.decode("ascii"):
            problems.append(f"Sec-WebSocket-Accept is {response.header('sec-websocket-accept')!r}")
        chosen = response.header("sec-websocket-protocol")
        if chosen is not None and chosen not in offered:
            problems.append(f"sub-protocol {chosen!r} was not offered")
        if problems:
            self.abort()
            raise ClientError("invalid 101 answer: " + "; ".join(problems))

    # Sending: every frame masked with a fresh key, as a client must.

    def sendFrame(
        self,
        opcode: int,
        payload: bytes,
        *,
        fin: bool = True,
        rsv: int = 0,
        masked: bool = True,
    ) -> None:
        """Send one frame, which may break the protocol on purpose."""
        mask = os.urandom(hybi.MASK_KEY_SIZE) if masked else None
        self.sock.sendall(hybi.encodeFrame(opcode, payload, fin=fin, rsv=rsv, mask=mask))

    def send(self, message: str | bytes) -> None:
        """Send a text (C{str}) or binary (C{bytes}) message in one frame."""
        if isinstance(message, str):
            self.sendFrame(hybi.Opcode.TEXT, message.encode("utf-8"))
        else:
            self.sendFrame(hybi.Opcode.BINARY, bytes(message))

    def ping(self, payload: bytes = b"") -> None:
        self.sendFrame(hybi.Opcode.PING, payload)

    def pong(self, payload: bytes = b"") -> None:
        self.sendFrame(hybi.Opcode.PONG, payload)

    def sendClose(self, code: int | None = 1000, reason: str = "") -> None:
        """Send a close frame (without waiting for the answer)."""
        payload = b"" if code is None else code.to_bytes(2, "big") + reason.encode("utf-8")
        self.sendFrame(hybi.Opcode.CLOSE, payload)
        self._closeSent = True

    # Receiving.

    def recv(self, timeout: float | None = None) -> Event:
        """
        The next message or control frame from the server: C{str}, C{bytes},
        L{Ping}, L{Pong} or L{Close}.

        @raise ReceiveTimeout: nothing arrived within C{timeout} seconds.
        @raise ConnectionClosed: the server closed TCP first.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self._events:
            data = self._stream.readSome(max(deadline - time.monotonic(), 0))
            self._events.extend(self._decoder.feed(data))
        event = self._events.popleft()
        if type(event) is Close:
            self.closeReceived = event
        return event

    def recvMessage(self, timeout: float | None = None) -> str | bytes:
        """
        The next data message, answering pings and skipping pongs on the way.

        @raise ClientError: the server closed (with the L{Close} in the message).
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            event = self.recv(max(deadline - time.monotonic(), 0))
            if type(event) is Ping:
                self.pong(event.payload)
            elif type(event) is Pong:
                continue
            elif type(event) is Close:
                raise ConnectionClosed(f"the server closed the WebSocket: {event!r}")
            else:
                return event  # type: ignore[return-value]

    # Closing.

    def close(self, code: int | None = 1000, reason: str = "") -> Close:
        """
        Do the closing handshake: send our close (unless we are answering the
        server's), wait for the server's, then for it to close TCP.

        @return: the server's L{Close}.
        @raise ClientError: a data message came after our close, or the
            server did not close TCP in time.
        """
        if not self._closeSent:
            self.sendClose(code, reason)
        deadline = time.monotonic() + self.timeout
        while self.closeReceived is None:
            event = self.recv(max(deadline - time.monotonic(), 0))
            if type(event) in (str, bytes):
                raise ClientError(f"a message after the close: {event!r}")
        self.waitForEof(max(deadline - time.monotonic(), 0))
        self.abort()
        return self.closeReceived


def hixie76Key(rng: random.Random) -> tuple[str, int]:
    """
    A C{Sec-WebSocket-Key1} or C{-Key2} value and the number hidden in it,
    made as draft-hixie-thewebsocketprotocol-76 section 4.1 tells a client.

    A number is chosen so that, multiplied by a random count of spaces (1 to
    12), it fits in 32 bits; the product is written in decimal, 1 to 12 noise
    characters are inserted anywhere, then the spaces anywhere but at the
    start or the end.
    """
    spaces = rng.randint(1, _HIXIE_MAX_SPACES)
    number = rng.randint(0, _HIXIE_MAX_PRODUCT // spaces)
    key = list(str(number * spaces))
    for _ in range(rng.randint(1, _HIXIE_MAX_NOISE)):
        key.insert(rng.randint(0, len(key)), rng.choice(_HIXIE_NOISE))
    for _ in range(spaces):
        key.insert(rng.randint(1, len(key) - 1), " ")
    return "".join(key), number


def hixie76Answer(number1: int, number2: int, key3: bytes) -> bytes:
    """The 16 bytes a Hixie-76 server must answer the challenge with."""
    return hashlib.md5(_HIXIE_NUMBERS.pack(number1, number2) + key3).digest()


class _HixieClient(_Client):
    """Text frames and the close frame, shared by both Hixie drafts."""

    closeReceived = False

    def _startFraming(self) -> None:
        self._frames = b""

    def send(self, message: str) -> None:
        """Send a text message: 0x00, its UTF-8, 0xFF."""
        if not isinstance(message, str):
            raise TypeError("Hixie clients send text only")
        self.sock.sendall(_HIXIE_TEXT_START + message.encode("utf-8") + _HIXIE_FRAME_END)

    def recv(self, timeout: float | None = None) -> str | Close:
        """
        The next text message, or L{Close} for the server's 0xFF 0x00.  (A
        real Hixie-75 browser would read that as an empty length-prefixed
        frame and discard it; reporting it lets a test see it was sent.)

        @raise ClientError: the server sent a frame a Hixie server may not.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            frames = self._frames
            if frames[:1] == _HIXIE_TEXT_START:
                end = frames.find(_HIXIE_FRAME_END)
                if end != -1:
                    self._frames = frames[end + 1 :]
                    return frames[1:end].decode("utf-8")
            elif frames[:2] == _HIXIE_CLOSE:
                self._frames = frames[2:]
                self.closeReceived = True
                return Close()
            elif frames and frames != _HIXIE_FRAME_END:
                raise ClientError(f"not a Hixie frame from a server: {frames[:20]!r}")
            data = self._stream.readSome(max(deadline - time.monotonic(), 0))
            self._frames += data

    def recvMessage(self, timeout: float | None = None) -> str:
        event = self.recv(timeout)
        if type(event) is Close:
            raise ConnectionClosed("the server closed the WebSocket")
        return event  # type: ignore[return-value]


class Hixie76Client(_HixieClient):
    """
    A client of draft-hixie-thewebsocketprotocol-76 (Safari 5.0, iOS 4.2,
    Chrome 6-13, Firefox 4 beta).

    @param splitKey3: send the eight challenge bytes in a later write than
        the request head, as a slow client would.
    @param firstMessage: a text message to send in the same write as the
        challenge bytes, before the answer arrives.
    @param rng: the source of the keys (seeded, for a reproducible test).
    @param secure: expect a C{wss://} location (the server is behind a
        TLS-terminating proxy); this client itself speaks plain TCP.
    @raise HandshakeRefused: the server did not answer 101.
    @raise ClientError: the answer is not what draft 76 requires.
    """

    def __init__(
        self,
        port: int,
        path: str = "/",
        origin: str = "http://127.0.0.1",
        protocol: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        host: str = "127.0.0.1",
        timeout: float = DEFAULT_TIMEOUT,
        splitKey3: bool = False,
        firstMessage: str | None = None,
        rng: random.Random | None = None,
        secure: bool = False,
    ) -> None:
        super().__init__(port, host, timeout)
        rng = rng if rng is not None else random.Random()
        key1, number1 = hixie76Key(rng)
        key2, number2 = hixie76Key(rng)
        key3 = bytes(rng.getrandbits(8) for _ in range(_HIXIE_KEY3_LENGTH))
        hostField = host if port == 80 else f"{host}:{port}"
        # The draft lets a client send its fields in any order; do, so that a
        # server relying on one order fails.
        fields = [
            "Upgrade: WebSocket",
            "Connection: Upgrade",
            f"Host: {hostField}",
            f"Origin: {origin}",
            f"Sec-WebSocket-Key1: {key1}",
            f"Sec-WebSocket-Key2: {key2}",
        ]
        if protocol is not None:
            fields.append(f"Sec-WebSocket-Protocol: {protocol}")
        fields.extend(_headerLines(headers))
        rng.shuffle(fields)
        head = "\r\n".join([f"GET {path} HTTP/1.1", *fields]).encode("latin-1") + _HEAD_END
        after = key3
        if firstMessage is not None:
            after += _HIXIE_TEXT_START + firstMessage.encode("utf-8") + _HIXIE_FRAME_END
        if splitKey3:
            self.sock.sendall(head)
            time.sleep(0.05)
            self.sock.sendall(after)
        else:
            self._sendHandshake(head, after)
        response = self._readResponse(_HIXIE_ANSWER_LENGTH)
        problems = []
        statusLine = response.head.split(b"\r\n", 1)[0].decode("latin-1")
        if statusLine != _HIXIE_76_STATUS_LINE:
            problems.append(f"status line {statusLine!r}")
        if response.header("upgrade") != "WebSocket":
            problems.append(f"Upgrade is {response.header('upgrade')!r}")
        if response.header("connection") != "Upgrade":
            problems.append(f"Connection is {response.header('connection')!r}")
        if response.header("sec-websocket-origin") != origin:
            problems.append(f"Sec-WebSocket-Origin is {response.header('sec-websocket-origin')!r}")
        location = f"{'wss' if secure else 'ws'}://{hostField}{path}"
        if response.header("sec-websocket-location") != location:
            problems.append(
                f"Sec-WebSocket-Location is {response.header('sec-websocket-location')!r},"
                f" not {location!r}"
            )
        if protocol is not None and response.header("sec-websocket-protocol") != protocol:
            problems.append(
                f"Sec-WebSocket-Protocol is {response.header('sec-websocket-protocol')!r}"
            )
        if response.body != hixie76Answer(number1, number2, key3):
            problems.append(f"wrong challenge answer {response.body!r}")
        if problems:
            self.abort()
            raise ClientError("invalid Hixie-76 answer: " + "; ".join(problems))
        self.protocol = response.header("sec-websocket-protocol")
        self._startFraming()
        self._frames, self._stream.buffer = self._stream.buffer, b""

    def close(self) -> None:
        """
        Send 0xFF 0x00, wait for the server's, then for it to close TCP.

        @raise ClientError: a message came after the close, or no close came.
        """
        self.sock.sendall(_HIXIE_CLOSE)
        deadline = time.monotonic() + self.timeout
        while not self.closeReceived:
            event = self.recv(max(deadline - time.monotonic(), 0))
            if type(event) is str:
                raise ClientError(f"a message after the close: {event!r}")
        self.waitForEof(max(deadline - time.monotonic(), 0))
        self.abort()


class Hixie75Client(_HixieClient):
    """
    A client of draft-hixie-thewebsocketprotocol-75 (Chrome 4-5, Safari 5.0.0).

    @param secure: expect a C{wss://} location (see L{Hixie76Client}).
    @raise HandshakeRefused: the server did not answer 101.
    @raise ClientError: the answer is not what draft 75 requires.
    """

    def __init__(
        self,
        port: int,
        path: str = "/",
        origin: str = "http://127.0.0.1",
        protocol: str | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        host: str = "127.0.0.1",
        timeout: float = DEFAULT_TIMEOUT,
        secure: bool = False,
    ) -> None:
        super().__init__(port, host, timeout)
        hostField = host if port == 80 else f"{host}:{port}"
        lines = [
            f"GET {path} HTTP/1.1",
            "Upgrade: WebSocket",
            "Connection: Upgrade",
            f"Host: {hostField}",
            f"Origin: {origin}",
        ]
        if protocol is not None:
            lines.append(f"WebSocket-Protocol: {protocol}")
        lines.extend(_headerLines(headers))
        self._sendHandshake("\r\n".join(lines).encode("latin-1") + _HEAD_END)
        response = self._readResponse()
        problems = []
        if not response.head.startswith(_HIXIE_75_PREFIX):
            problems.append(f"the answer does not start as draft 75 requires: {response.head!r}")
        if response.header("websocket-origin") != origin:
            problems.append(f"WebSocket-Origin is {response.header('websocket-origin')!r}")
        location = f"{'wss' if secure else 'ws'}://{hostField}{path}"
        if response.header("websocket-location") != location:
            problems.append(f"WebSocket-Location is {response.header('websocket-location')!r}")
        if protocol is not None and response.header("websocket-protocol") != protocol:
            problems.append(f"WebSocket-Protocol is {response.header('websocket-protocol')!r}")
        if problems:
            self.abort()
            raise ClientError("invalid Hixie-75 answer: " + "; ".join(problems))
        self._startFraming()
        self._frames, self._stream.buffer = self._stream.buffer, b""

    def close(self) -> None:
        """
        Draft 75 has no closing handshake: shut our side down and wait for
        the server to close its side.
        """
        self.sock.shutdown(socket.SHUT_WR)
        self.waitForEof()
        self.abort()
