"""
Fuzz targets: the codecs and the whole in-memory stack, fed untrusted bytes.

A target takes the bytes and where to cut them into reads, and checks what
must hold whatever the bytes are:

  - only L{HandshakeError} (before the handshake) or L{ProtocolError} (after)
    comes out, or on the client's side L{HandshakeFailed}; any other
    exception is a bug and propagates as itself;
  - what comes out can be answered: a refusal renders, an error's close code
    can be sent, a ping can be answered, a peer's close can be echoed;
  - buffers stay bounded (the request head, a decoder's unparsed bytes, a
    message under assembly), and a failed codec stays failed.

A broken property raises L{AssertionError}.  The targets are pure functions
of their input, shared by the property tests (C{tests/abuse/test_fuzz_codecs.py},
through Hypothesis) and the long-running harness (C{fuzz/run.py}, random
mutation or atheris), along with the seeds (valid inputs) and the mutations
applied to them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

from ratchet_tx.websocket.codecs import hixie, hybi
from ratchet_tx.websocket.codecs.clienthandshake import ClientHandshake, parseURL
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.deflate import DeflatePolicy
from ratchet_tx.websocket.codecs.errors import (
    HandshakeError,
    HandshakeFailed,
    InvalidHandshakeResponse,
    ProtocolError,
)
from ratchet_tx.websocket.codecs.events import Close, Ping, Pong
from ratchet_tx.websocket.codecs.handshake import WebSocketVersion, readOpening, renderAccept
from ratchet_tx.websocket.codecs.http import RequestReader, ResponseReader, renderRejection

#: Limits the targets run with: small, so that fuzzed input reaches them.
MAX_HEAD = 2048
MAX_HEADERS = 24
MAX_FRAME = 512
MAX_MESSAGE = 1024
MAX_BODY = 256

#: The close codes a codec may fail with.
FAILURE_CODES = frozenset(
    {CloseCode.PROTOCOL_ERROR, CloseCode.INVALID_PAYLOAD, CloseCode.MESSAGE_TOO_BIG}
)


def cut(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """C{data} cut into reads at the offsets C{cuts} (taken modulo its length)."""
    if not data:
        return [b""]
    offsets = sorted({c % len(data) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]


# Targets.


def checkHandshake(data: bytes, cuts: Sequence[int] = ()) -> str:
    """
    Read a request head from C{data} and validate it as an opening
    handshake, as the WebSocket layer does.

    @return: what happened: C{"incomplete"}, C{"refused NNN"} or the version.
    """
    reader = RequestReader(maxHandshakeSize=MAX_HEAD, maxHeaders=MAX_HEADERS)
    request = None
    for piece in cut(data, cuts):
        try:
            request = reader.feed(piece)
        except HandshakeError as error:
            return _refused(error, reader)
        assert len(reader._buffer) <= MAX_HEAD, "the head buffer outgrew its limit"
        if request is not None:
            break
    if request is None:
        return "incomplete"
    assert len(reader.remainder) <= len(data)
    request.cookies  # noqa: B018 - parsed lazily: parse it
    try:
        opening = readOpening(request)
    except HandshakeError as error:
        return _refused(error)
    subprotocol = opening.subprotocols[0] if opening.subprotocols else None
    response = renderAccept(opening, subprotocol=subprotocol, key3=b"\x00" * opening.key3Length)
    assert response.startswith(b"HTTP/1.1 101 "), response
    return opening.version.value


def _refused(error: HandshakeError, reader: RequestReader | None = None) -> str:
    assert 400 <= error.status <= 599, error
    response = renderRejection(error)
    assert response.startswith(b"HTTP/1.1 %d " % error.status), response
    if reader is not None:
        try:
            reader.feed(b"more")
        except HandshakeError as again:
            assert again.status == error.status, (again, error)
        else:
            raise AssertionError("a failed RequestReader accepted more bytes")
    return f"refused {error.status}"


def checkFrames(data: bytes, cuts: Sequence[int] = (), masked: bool = True) -> list:
    """
    Decode C{data} as frames from a client (C{masked}) or a server.

    @return: the events decoded, then the L{ProtocolError} if one ended it.
    """
    decoder = hybi.FrameDecoder(
        maxFrameSize=MAX_FRAME, maxMessageSize=MAX_MESSAGE, expectMasked=masked
    )
    seen: list = []
    for piece in cut(data, cuts):
        try:
            events = decoder.feed(piece)
        except ProtocolError as error:
            _checkEvents(error.events)
            seen.extend(error.events)
            _checkFailure(error)
            try:
                decoder.feed(b"\x81\x80\x00\x00\x00\x00")
            except ProtocolError as again:
                assert (again.code, again.reason) == (error.code, error.reason)
            else:
                raise AssertionError("a failed FrameDecoder decoded more frames") from None
            seen.append(error)
            return seen
        _checkEvents(events)
        seen.extend(events)
        assert len(decoder._buffer) <= hybi._MAX_BUFFERED, "the frame buffer outgrew its bound"
        assert decoder._messageSize <= MAX_MESSAGE
    return seen


def _checkFailure(error: ProtocolError) -> None:
    assert error.code in FAILURE_CODES, error
    # The server sends the code back in its close frame: it must encode.
    hybi.encodeClose(error.code, error.reason)


def _checkEvents(events: Iterable[object]) -> None:
    for event in events:
        kind = type(event)
        if kind is str:
            assert len(event.encode("utf-8")) <= MAX_MESSAGE  # type: ignore[union-attr]
        elif kind is bytes:
            assert len(event) <= MAX_MESSAGE  # type: ignore[arg-type]
        elif kind is Ping:
            hybi.encodePong(event.payload)  # type: ignore[union-attr]
        elif kind is Pong:
            assert len(event.payload) <= hybi.MAX_PAYLOAD_NORMAL  # type: ignore[union-attr]
        elif kind is Close:
            # The server echoes the peer's close.
            hybi.encodeClose(event.code, event.reason)  # type: ignore[union-attr]
        else:
            raise AssertionError(f"unexpected event {event!r}")


def checkHixie(data: bytes, cuts: Sequence[int] = ()) -> list:
    """
    Decode C{data} as Hixie-76/75 frames from a client.

    @return: the events decoded, then the L{ProtocolError} if one ended it.
    """
    decoder = hixie.HixieDecoder(maxMessageSize=MAX_MESSAGE)
    seen: list = []
    closed = False
    for piece in cut(data, cuts):
        try:
            events = decoder.feed(piece)
        except ProtocolError as error:
            seen.extend(error.events)
            _checkHixieEvents(error.events)
            _checkFailure(error)
            try:
                decoder.feed(b"\x00ok\xff")
            except ProtocolError as again:
                assert again.code == error.code
            else:
                raise AssertionError("a failed HixieDecoder decoded more frames") from None
            seen.append(error)
            return seen
        if closed:
            assert events == [], "events after the close"
        _checkHixieEvents(events)
        seen.extend(events)
        closed = closed or any(type(e) is Close for e in events)
        assert decoder._pending <= MAX_MESSAGE, "a Hixie text frame outgrew the limit"
    return seen


def _checkHixieEvents(events: Iterable[object]) -> None:
    for event in events:
        if type(event) is str:
            assert len(event.encode("utf-8")) <= MAX_MESSAGE
            hixie.encodeText(event)
        elif type(event) is not Close:
            raise AssertionError(f"unexpected Hixie event {event!r}")


#: The client handshakes a response is checked against: the specs'
#: examples, each version's (the RFC's offers permessage-deflate too).
CLIENT_HANDSHAKES: tuple[ClientHandshake, ...] = tuple(
    ClientHandshake(
        url=parseURL("ws://example.com/demo"),
        version=version,
        key=None if version.isHixie else "dGhlIHNhbXBsZSBub25jZQ==",
        challenge=(
            hixie.Challenge("4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00", b"^n:ds[4U")
            if version is WebSocketVersion.HIXIE_76
            else None
        ),
        subprotocols=("sample",) if version.isHixie else ("chat", "superchat"),
        origin="http://example.com",
        deflate=DeflatePolicy(),
    )
    for version in WebSocketVersion
)


def checkResponse(data: bytes, cuts: Sequence[int] = ()) -> list[str]:
    """
    Read C{data} as a server's answer to each of L{CLIENT_HANDSHAKES} and
    check it, as a client does.

    @return: per handshake, what happened: C{"incomplete"}, C{"invalid"},
        C{"refused NNN"} or the version accepted.
    """
    return [_checkResponse(handshake, data, cuts) for handshake in CLIENT_HANDSHAKES]


def _checkResponse(handshake: ClientHandshake, data: bytes, cuts: Sequence[int]) -> str:
    reader = ResponseReader(
        maxHandshakeSize=MAX_HEAD,
        maxHeaders=MAX_HEADERS,
        maxBodySize=MAX_BODY,
        switchBodySize=handshake.switchBodySize,
    )
    response = None
    try:
        for piece in cut(data, cuts):
            response = reader.feed(piece)
            assert len(reader._buffer or ()) <= MAX_HEAD, "the head buffer outgrew its limit"
            if response is not None:
                break
        else:
            response = reader.end()
    except InvalidHandshakeResponse as error:
        assert isinstance(error.reason, str)
        try:
            reader.feed(b"more")
        except InvalidHandshakeResponse as again:
            assert again is error
        else:
            raise AssertionError("a failed ResponseReader accepted more bytes") from None
        return "incomplete" if "closed" in error.reason else "invalid"
    assert len(response.body) <= max(MAX_BODY, handshake.switchBodySize)
    try:
        accepted = handshake.validate(response)
    except HandshakeFailed as failed:
        str(failed)  # the message a client logs renders
        if isinstance(failed, InvalidHandshakeResponse):
            return "invalid"
        return f"refused {response.status}"
    if accepted.deflate is not None:
        # The agreed compressor can be set up and used.
        accepted.deflate.compress(b"fuzz" * 20)
    return accepted.version.value


# Seeds: valid inputs for the mutations to start from.

_RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def _head(lines: Iterable[str], path: str = "/chat?room=1") -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/1.1", *lines]) + "\r\n\r\n").encode("latin-1")


HANDSHAKE_SEEDS: tuple[bytes, ...] = (
    _head(
        [
            "Host: server.example.com",
            "Upgrade: websocket",
            "Connection: keep-alive, Upgrade",
            f"Sec-WebSocket-Key: {_RFC_KEY}",
            "Sec-WebSocket-Version: 13",
            "Origin: http://example.com",
            "Sec-WebSocket-Protocol: chat, superchat",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            'Cookie: session=abc; theme="dark"; x',
        ]
    ),
    _head(
        [
            "Host: server.example.com",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {_RFC_KEY}",
            "Sec-WebSocket-Origin: http://example.com",
            "Sec-WebSocket-Version: 8",
        ]
    ),
    _head(
        [
            "Host: server.example.com",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {_RFC_KEY}",
            "Sec-WebSocket-Version: 7",
        ]
    ),
    _head(
        [
            "Upgrade: WebSocket",
            "Connection: Upgrade",
            "Host: example.com",
            "Origin: http://example.com",
            "Sec-WebSocket-Protocol: sample",
            "Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5",
            "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00",
        ],
        "/demo",
    )
    + b"^n:ds[4U",
    _head(["Upgrade: WebSocket", "Connection: Upgrade", "Host: example.com", "Origin: null"], "/"),
)


def clientFrame(
    opcode: int, payload: bytes, fin: bool = True, rsv: int = 0, mask: bytes | None = b"abcd"
) -> bytes:
    """One frame as a client sends it (masked), or unmasked with C{mask=None}."""
    return hybi.encodeFrame(opcode, payload, fin=fin, rsv=rsv, mask=mask)


def frameStream(rng: random.Random, masked: bool = True, count: int = 8) -> bytes:
    """A valid stream of C{count} messages and control frames, at random."""
    mask = (lambda: rng.randbytes(4)) if masked else (lambda: None)
    out = []
    for _ in range(count):
        kind = rng.randrange(6)
        if kind == 0:
            text = "".join(rng.choice("aé€😀 ") for _ in range(rng.randrange(40)))
            out.append(clientFrame(hybi.Opcode.TEXT, text.encode("utf-8"), mask=mask()))
        elif kind == 1:
            size = rng.choice((0, 1, 125, 126, 127, 300, MAX_FRAME))
            out.append(clientFrame(hybi.Opcode.BINARY, rng.randbytes(size), mask=mask()))
        elif kind == 2:
            payload = "fragmented é".encode()
            out.append(clientFrame(hybi.Opcode.TEXT, payload[:5], fin=False, mask=mask()))
            out.append(clientFrame(hybi.Opcode.PING, b"between", mask=mask()))
            out.append(clientFrame(hybi.Opcode.CONTINUATION, payload[5:], mask=mask()))
        elif kind == 3:
            payload = rng.randbytes(rng.randrange(126))
            out.append(clientFrame(hybi.Opcode.PING, payload, mask=mask()))
        elif kind == 4:
            out.append(clientFrame(hybi.Opcode.PONG, b"", mask=mask()))
        else:
            part = rng.randbytes(MAX_MESSAGE // 3)
            out.append(clientFrame(hybi.Opcode.BINARY, part, fin=False, mask=mask()))
            out.append(clientFrame(hybi.Opcode.CONTINUATION, part, fin=False, mask=mask()))
            out.append(clientFrame(hybi.Opcode.CONTINUATION, part, mask=mask()))
    if rng.random() < 0.5:
        out.append(clientFrame(hybi.Opcode.CLOSE, b"\x03\xe8bye", mask=mask()))
    return b"".join(out)


FRAME_SEEDS: tuple[bytes, ...] = tuple(
    frameStream(random.Random(seed), count=6) for seed in range(4)
) + (
    clientFrame(hybi.Opcode.TEXT, b"Hello"),
    clientFrame(hybi.Opcode.BINARY, b"\x00" * 200),
    clientFrame(hybi.Opcode.TEXT, "Καλημέρα".encode()[:5], fin=False)
    + clientFrame(hybi.Opcode.CONTINUATION, "Καλημέρα".encode()[5:]),
    clientFrame(hybi.Opcode.CLOSE, b"\x03\xe8"),
)

HIXIE_SEEDS: tuple[bytes, ...] = (
    b"\x00hello\xff\x00\xc3\xa9t\xc3\xa9\xff",
    b"\x00a\xff\x80\x03abc\x00b\xff\xff\x00",
    b"\x01discarded\xff\x00kept\xff",
    b"\x00" + "€".encode() * 100 + b"\xff",
    b"\xff\x00",
)


# Mutations: (kind, position, value) triples, applied in order.

#: Bytes that tend to matter to these parsers.
INTERESTING = (
    b"\x00", b"\xff", b"\x7f", b"\x80", b"\x7e", b"\r\n", b"\n", b"\r\n\r\n", b":", b" ",
    b",", b"\"", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x88\x80",
    b"\x81\xfe\xff\xff", b"\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff", b"0" * 40,
    b"http://", b"[", b"]", b"%", b"?", b"ws://[::1]", b"\t", b";", b"=",
)  # fmt: skip

MUTATIONS = ("flip", "truncate", "insert", "delete", "duplicate", "splice", "interesting")


def mutate(data: bytes, ops: Iterable[tuple[str, int, int]], donors: Sequence[bytes] = ()) -> bytes:
    """
    Apply C{ops} to C{data}; positions and values are taken modulo what
    fits, so any integers make a valid operation.

      - C{flip}: flip bit C{value % 8} of the byte at C{position};
      - C{truncate}: keep the first C{position} bytes;
      - C{insert}: insert the byte C{value % 256} at C{position};
      - C{delete}: remove C{value % 16 + 1} bytes at C{position};
      - C{duplicate}: repeat the C{value % 64 + 1} bytes at C{position};
      - C{splice}: replace the tail at C{position} by the tail of donor
        C{value} (another seed) from the same offset;
      - C{interesting}: insert an L{INTERESTING} byte string at C{position}.
    """
    buffer = bytearray(data)
    for kind, position, value in ops:
        size = len(buffer)
        at = position % (size + 1)
        if kind == "flip" and size:
            buffer[at % size] ^= 1 << (value % 8)
        elif kind == "truncate":
            del buffer[at:]
        elif kind == "insert":
            buffer[at:at] = bytes([value % 256])
        elif kind == "delete":
            del buffer[at : at + value % 16 + 1]
        elif kind == "duplicate":
            buffer[at:at] = buffer[at : at + value % 64 + 1]
        elif kind == "splice" and donors:
            donor = donors[value % len(donors)]
            buffer[at:] = donor[at:]
        elif kind == "interesting":
            buffer[at:at] = INTERESTING[value % len(INTERESTING)]
    return bytes(buffer)


def randomOps(rng: random.Random, most: int = 8) -> list[tuple[str, int, int]]:
    """Random mutation operations, for the harness."""
    return [
        (rng.choice(MUTATIONS), rng.randrange(1 << 16), rng.randrange(1 << 16))
        for _ in range(rng.randrange(1, most + 1))
    ]


def checkStack(data: bytes, cuts: Sequence[int] = ()) -> str:
    """
    Feed C{data} (a handshake and frames, or anything) to a whole
    C{Server(WebSocket(echo))} in memory, in reads cut at C{cuts}; let every
    timeout pass; drop the connection.  Nothing may raise out of the
    protocol, nothing be logged at error level, C{onOpen}/C{onClose} must
    pair up, and the layer must hold nothing afterwards.

    @return: how the connection went: C{"opened"} or C{"never opened"}.
    """
    from twisted.internet.error import ConnectionLost
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport
    from twisted.logger import LogLevel, globalLogPublisher
    from twisted.python.failure import Failure

    from ratchet_tx.server import Server
    from ratchet_tx.websocket import WebSocket

    app = _Recorder()
    clock = Clock()
    layer = WebSocket(
        app,
        clock=clock,
        maxMessageSize=MAX_MESSAGE,
        maxHandshakeSize=MAX_HEAD,
        handshakeTimeout=5,
        closeTimeout=2,
        pingInterval=3,
        pingTimeout=3,
    )
    server = Server(layer)
    errors: list[dict] = []

    def observe(event: dict) -> None:
        if event.get("log_level") in (LogLevel.error, LogLevel.critical):
            errors.append(event)

    globalLogPublisher.addObserver(observe)
    try:
        transport = StringTransport()
        proto = server.buildProtocol(transport.getPeer())
        proto.makeConnection(transport)
        for piece in cut(data, cuts):
            proto.dataReceived(piece)
        clock.advance(1)
        clock.advance(10)
        proto.connectionLost(Failure(ConnectionLost("fuzz")))
        clock.advance(100)
    finally:
        globalLogPublisher.removeObserver(observe)
    assert not errors, [e.get("log_format") for e in errors]
    assert app.calls.count("onOpen") == app.calls.count("onClose") <= 1, app.calls
    assert app.calls[-1:] in ([], ["onClose"]), app.calls
    assert (layer._connections, layer._open, layer._admitted) == ({}, set(), 0)
    assert not [c for c in clock.getDelayedCalls() if c.active()]
    return "opened" if app.calls else "never opened"


class _Recorder:
    """An echo application recording the names of its callbacks."""

    def __init__(self) -> None:
        from zope.interface import alsoProvides

        from ratchet_tx.interfaces import IApplication

        alsoProvides(self, IApplication)
        self.calls: list[str] = []

    def onOpen(self, conn: object) -> None:
        self.calls.append("onOpen")

    def onMessage(self, conn: object, message: object) -> object:
        from ratchet_tx.commands import SendMessage

        self.calls.append("onMessage")
        return SendMessage(conn, message)

    def onClose(self, conn: object) -> None:
        self.calls.append("onClose")

    def onError(self, conn: object, failure: object) -> None:
        raise AssertionError(f"application error: {failure}")


#: Handshakes followed by frames: the stack target's seeds.
STACK_SEEDS: tuple[bytes, ...] = tuple(
    handshake
    + (frames if b"Sec-WebSocket-Version" in handshake else HIXIE_SEEDS[index % len(HIXIE_SEEDS)])
    for index, (handshake, frames) in enumerate(zip(HANDSHAKE_SEEDS, FRAME_SEEDS, strict=False))
)


RESPONSE_SEEDS: tuple[bytes, ...] = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Protocol: chat\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10; "
    b"client_no_context_takeover\r\n"
    b"\r\n\x81\x05Hello",
    b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"
    b"Upgrade: WebSocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Origin: http://example.com\r\n"
    b"Sec-WebSocket-Location: ws://example.com/demo\r\n"
    b"Sec-WebSocket-Protocol: sample\r\n"
    b"\r\n8jKS'y:G*Co,Wxa-\x00Hi\xff",
    b"HTTP/1.1 101 Web Socket Protocol Handshake\r\n"
    b"Upgrade: WebSocket\r\n"
    b"Connection: Upgrade\r\n"
    b"WebSocket-Origin: http://example.com\r\n"
    b"WebSocket-Location: ws://example.com/demo\r\n"
    b"\r\n",
    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 19\r\n\r\norigin not allowed\n",
    b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.0 500 Oops\r\n\r\nuntil the end",
)


#: Every target, with its seeds: name -> (target, seeds).
TARGETS: dict[str, tuple[Callable[..., object], tuple[bytes, ...]]] = {
    "handshake": (checkHandshake, HANDSHAKE_SEEDS),
    "hybi": (checkFrames, FRAME_SEEDS),
    "hybi-client": (
        lambda data, cuts=(): checkFrames(data, cuts, masked=False),
        tuple(frameStream(random.Random(seed), masked=False, count=6) for seed in range(4)),
    ),
    "hixie": (checkHixie, HIXIE_SEEDS),
    "response": (checkResponse, RESPONSE_SEEDS),
    "stack": (checkStack, STACK_SEEDS),
}
