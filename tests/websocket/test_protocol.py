"""
Tests for L{ratchet_tx.websocket.protocol}: the sans-I/O WebSocket protocol,
driven with bytes and calls alone -- no transport, no clock.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs import hybi
from ratchet_tx.websocket.codecs.clienthandshake import Accepted, ClientHandshake, parseURL
from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.errors import (
    HandshakeError,
    HandshakeRefused,
    InvalidHandshakeResponse,
    ProtocolError,
)
from ratchet_tx.websocket.codecs.events import Close, Ping, Pong
from ratchet_tx.websocket.codecs.handshake import Opening, WebSocketVersion
from ratchet_tx.websocket.codecs.hixie import CLOSE_FRAME
from ratchet_tx.websocket.framing import Framings, Role
from ratchet_tx.websocket.protocol import (
    _TRANSITIONS,
    CLOSED,
    CLOSING,
    CONNECTING,
    FAILED,
    HANDSHAKE,
    OPEN,
    InvalidState,
    State,
    WebSocketProtocol,
    _Input,
)
from ratchet_tx.websocket.settings import DEFAULT_DEFLATE
from tests.websocket.helpers import (
    SAMPLE_ANSWER,
    SAMPLE_KEY3,
    Response,
    binaryFrame,
    chunks,
    closeFrame,
    frame,
    hixie75Request,
    hixie76Request,
    hixieText,
    hybiRequest,
    pingFrame,
    pongFrame,
    textFrame,
)

LIMITS = {"maxHandshakeSize": 16384, "maxMessageSize": 1 << 20}


def server(**options: Any) -> WebSocketProtocol:
    return WebSocketProtocol(Role.SERVER, **{**LIMITS, **options})


def opened(request: bytes | None = None, after: bytes = b"") -> WebSocketProtocol:
    """A server protocol whose handshake was accepted."""
    protocol = server()
    events = protocol.receiveData((request or hybiRequest()) + after)
    assert [type(e) for e in events] == [Opening], events
    response = Response(protocol.accept())
    assert response.status == 101, response
    return protocol


def decode(data: bytes) -> list[Any]:
    """What a client reads in C{data}: the server's frames."""
    return hybi.FrameDecoder(maxMessageSize=1 << 20, expectMasked=False).feed(data)


class TransitionTableTests(SynchronousTestCase):
    """The table in the module's docstring, as the code holds it."""

    def test_everyStateHasARow(self) -> None:
        self.assertEqual(set(_TRANSITIONS), set(State))

    def test_connectionLostEndsEveryState(self) -> None:
        for state, row in _TRANSITIONS.items():
            self.assertIn(row[_Input.CONNECTION_LOST], (CLOSED, FAILED), state)
        self.assertIs(_TRANSITIONS[FAILED][_Input.CONNECTION_LOST], FAILED)

    def test_endedStatesAcceptNothingElse(self) -> None:
        for state in (CLOSED, FAILED):
            self.assertEqual(set(_TRANSITIONS[state]), {_Input.CONNECTION_LOST})

    def test_anInputNotInTheRowIsInvalid(self) -> None:
        protocol = server()
        self.assertRaises(InvalidState, protocol._move, _Input.CLOSE_SENT)
        self.assertIs(protocol.state, CONNECTING)


class OpeningHandshakeTests(SynchronousTestCase):
    def test_requestThenAccept(self) -> None:
        protocol = server()
        self.assertIs(protocol.state, CONNECTING)
        [opening] = protocol.receiveData(hybiRequest(subprotocols=["chat"]))
        self.assertIsInstance(opening, Opening)
        self.assertIs(protocol.state, HANDSHAKE)
        self.assertIs(protocol.version, WebSocketVersion.RFC6455)
        self.assertFalse(protocol.canSend)
        response = Response(protocol.accept("chat"))
        self.assertEqual(response.status, 101)
        self.assertEqual(response.header("Sec-WebSocket-Protocol"), "chat")
        self.assertIs(protocol.state, OPEN)
        self.assertTrue(protocol.canSend)
        self.assertEqual(protocol.subprotocol, "chat")

    def test_everyChunking(self) -> None:
        """The request, key3 and first frames, cut anywhere: the same events."""
        streams = [
            (hybiRequest(), textFrame("hi")),
            (hixie76Request() + SAMPLE_KEY3, hixieText("hi")),
            (hixie75Request(), hixieText("hi")),
        ]
        for head, first in streams:
            for size in range(1, len(head) + len(first) + 1):
                protocol = server()
                events: list[Any] = []
                for piece in chunks(head + first, size):
                    events += protocol.receiveData(piece)
                self.assertEqual([type(e) for e in events], [Opening], size)
                response = protocol.accept()
                self.assertIn(b" 101 ", response)
                self.assertEqual(protocol.receiveData(b""), ["hi"], size)

    def test_hixie76AnswersTheChallenge(self) -> None:
        protocol = server()
        self.assertEqual(protocol.receiveData(hixie76Request()), [])
        self.assertIs(protocol.state, CONNECTING)
        [opening] = protocol.receiveData(SAMPLE_KEY3)
        self.assertIs(opening.version, WebSocketVersion.HIXIE_76)
        self.assertEqual(Response(protocol.accept()).body, SAMPLE_ANSWER)

    def test_badRequestIsAnErrorValue(self) -> None:
        protocol = server()
        [error] = protocol.receiveData(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIsInstance(error, HandshakeError)
        self.assertEqual(error.status, 400)
        self.assertIs(protocol.state, FAILED)
        self.assertIs(protocol.error, error)
        self.assertFalse(protocol.closesTransport, "the refusal is still owed")
        self.assertEqual(Response(protocol.dataToSend()).status, 400)
        self.assertTrue(protocol.closesTransport)
        self.assertEqual(protocol.receiveData(b"more"), [])

    def test_unknownVersion426(self) -> None:
        protocol = server()
        [error] = protocol.receiveData(hybiRequest(9))
        self.assertEqual(error.status, 426)
        response = Response(protocol.dataToSend())
        self.assertEqual(response.header("Sec-WebSocket-Version"), "13, 8, 7")

    def test_versionsAccepted(self) -> None:
        protocol = server(versions={WebSocketVersion.RFC6455})
        [error] = protocol.receiveData(hybiRequest(8))
        self.assertEqual(error.status, 426)

    def test_oversizedHead431(self) -> None:
        protocol = server(maxHandshakeSize=100)
        [error] = protocol.receiveData(hybiRequest(extra=["X-Pad: " + "p" * 200]))
        self.assertEqual(error.status, 431)

    def test_refuse(self) -> None:
        protocol = server()
        protocol.receiveData(hybiRequest())
        response = Response(protocol.refuse(HandshakeError(403, "not you")))
        self.assertEqual((response.status, response.body), (403, b"not you\n"))
        self.assertIs(protocol.state, FAILED)
        self.assertTrue(protocol.closesTransport)

    def test_bytesWhileDecidingAreKeptWithinTheLimit(self) -> None:
        protocol = server(maxHandshakeSize=300)
        protocol.receiveData(hybiRequest())
        self.assertEqual(protocol.receiveData(textFrame("early")), [])
        protocol.accept()
        self.assertEqual(protocol.receiveData(b""), ["early"])

    def test_tooMuchWhileDecidingIs400(self) -> None:
        protocol = server(maxHandshakeSize=300)
        protocol.receiveData(hybiRequest())
        [error] = protocol.receiveData(textFrame("x" * 400))
        self.assertEqual(error.status, 400)
        self.assertRaises(InvalidState, protocol.accept)

    def test_acceptOnlyOnce(self) -> None:
        protocol = opened()
        self.assertRaises(InvalidState, protocol.accept)
        self.assertRaises(InvalidState, protocol.refuse, HandshakeError(400, "late"))

    def test_acceptBeforeTheRequest(self) -> None:
        self.assertRaises(InvalidState, server().accept)

    def test_subprotocolNotOffered(self) -> None:
        protocol = server()
        protocol.receiveData(hybiRequest(subprotocols=["a"]))
        self.assertRaises(ValueError, protocol.accept, "b")
        self.assertIs(protocol.state, HANDSHAKE)

    def test_deflateAgreedWhenOffered(self) -> None:
        from ratchet_tx.websocket.settings import DEFAULT_DEFLATE

        protocol = server()
        protocol.receiveData(hybiRequest(extra=["Sec-WebSocket-Extensions: permessage-deflate"]))
        response = Response(protocol.accept(deflate=DEFAULT_DEFLATE))
        self.assertEqual(protocol.extensions, response.header("Sec-WebSocket-Extensions"))
        self.assertTrue(protocol.extensions.startswith("permessage-deflate"))
        self.assertEqual(protocol.send("z" * 100)[0] & 0x40, 0x40, "RSV1: compressed")

    def test_compactKeepsWhatTheHandshakeSaid(self) -> None:
        protocol = opened(hybiRequest(path="/room?id=4"))
        protocol.compact()
        self.assertIsNone(protocol._opening)
        self.assertEqual(protocol.opening.request.target, "/room?id=4")

    def test_connectionsOfOneLayerShareTheirLimits(self) -> None:
        """
        Protocols with the same framings and limits share one object for
        them (kept by the framings); other limits or framings get their own.
        """
        framings = Framings(Role.SERVER)
        first, second = server(framings=framings), server(framings=framings)
        self.assertIs(first._limits, second._limits)
        self.assertEqual(first.role, Role.SERVER)
        larger = WebSocketProtocol(
            Role.SERVER, maxHandshakeSize=16384, maxMessageSize=1 << 21, framings=framings
        )
        self.assertIsNot(larger._limits, first._limits)
        self.assertEqual(larger._limits.maxMessageSize, 1 << 21)
        self.assertIsNot(server()._limits, first._limits)

    def test_openConnectionsOfOneFramingShareTheirSend(self) -> None:
        """
        Connections framed alike share one send callable (not a bound
        method each) and keep no list of owed bytes while they owe none.
        """
        framings = Framings(Role.SERVER)
        protocols = []
        for _ in range(2):
            protocol = server(framings=framings)
            protocol.receiveData(hybiRequest())
            protocol.accept()
            protocols.append(protocol)
        first, second = protocols
        self.assertIs(first.send, second.send)
        self.assertIsNone(first._outbox)
        self.assertEqual(first.send("hi"), b"\x81\x02hi")  # FIN, text, unmasked
        self.assertEqual(first.dataToSend(), b"")

    def test_sendBeforeOpen(self) -> None:
        protocol = server()
        self.assertRaises(InvalidState, protocol.send, "too soon")
        protocol.receiveData(hybiRequest())
        self.assertRaises(InvalidState, protocol.send, "too soon")
        self.assertRaises(InvalidState, protocol.ping)

    def test_closeBeforeOpenAbandons(self) -> None:
        protocol = server()
        protocol.receiveData(hybiRequest())
        self.assertEqual(protocol.close(), b"")
        self.assertIs(protocol.state, FAILED)
        self.assertTrue(protocol.closesTransport)


class MessageTests(SynchronousTestCase):
    def test_messagesInAndOut(self) -> None:
        protocol = opened()
        data = textFrame("one") + binaryFrame(b"two") + pingFrame(b"p") + pongFrame(b"q")
        self.assertEqual(protocol.receiveData(data), ["one", b"two", Ping(b"p"), Pong(b"q")])
        self.assertEqual(decode(protocol.send("back")), ["back"])
        self.assertEqual(decode(protocol.pong(b"p")), [Pong(b"p")])
        self.assertEqual(decode(protocol.ping(b"hi")), [Ping(b"hi")])
        self.assertEqual(protocol.dataToSend(), b"", "pings are answered by whoever handles them")

    def test_serverFramesAreUnmaskedAndClientFramesMustBeMasked(self) -> None:
        protocol = opened()
        self.assertEqual(protocol.send("x")[1] & 0x80, 0)
        events = protocol.receiveData(frame(hybi.Opcode.TEXT, b"x", masked=False))
        self.assertEqual([type(e) for e in events], [ProtocolError])
        self.assertEqual(events[-1].code, CloseCode.PROTOCOL_ERROR)

    def test_hixieHasNoPing(self) -> None:
        protocol = opened(hixie76Request() + SAMPLE_KEY3)
        self.assertRaises(InvalidState, protocol.ping)
        self.assertRaises(InvalidState, protocol.pong)

    def test_sharedFramings(self) -> None:
        """Connections sharing framings share a message's frame."""
        framings = Framings(Role.SERVER)
        one, two = server(framings=framings), server(framings=framings)
        for protocol in (one, two):
            protocol.receiveData(hybiRequest())
            protocol.accept()
        message = "to both"
        self.assertIs(one.send(message), two.send(message))

    def test_framingsOfTheOtherRole(self) -> None:
        self.assertRaises(ValueError, server, framings=Framings(Role.CLIENT))


class ClosingTests(SynchronousTestCase):
    def test_peerClosesAfterMessagesInOneRead(self) -> None:
        """
        The messages come out, the reply to the close is made by
        dataToSend, and data may be sent until then.
        """
        protocol = opened()
        events = protocol.receiveData(textFrame("last") + closeFrame(1001, "bye"))
        self.assertEqual(events, ["last", Close(1001, "bye")])
        self.assertIs(protocol.state, CLOSING)
        self.assertTrue(protocol.closeReceived)
        self.assertTrue(protocol.canSend)
        answer = protocol.send("the answer to last")
        self.assertEqual(
            decode(answer + protocol.dataToSend()), ["the answer to last", Close(1001, "bye")]
        )
        self.assertIs(protocol.state, CLOSED)
        self.assertFalse(protocol.canSend)
        self.assertRaises(InvalidState, protocol.send, "too late")
        self.assertTrue(protocol.closesTransport)
        self.assertEqual((protocol.closeCode, protocol.closeReason), (1001, "bye"))

    def test_peerClosesWithoutACode(self) -> None:
        protocol = opened()
        protocol.receiveData(closeFrame(None))
        self.assertEqual(decode(protocol.dataToSend()), [Close(None, "")])
        self.assertEqual(protocol.closeCode, CloseCode.NO_STATUS)

    def test_weCloseFirst(self) -> None:
        protocol = opened()
        self.assertEqual(decode(protocol.close(4000, "done")), [Close(4000, "done")])
        self.assertIs(protocol.state, CLOSING)
        self.assertFalse(protocol.closesTransport)
        self.assertEqual(protocol.close(), b"", "one close frame only")
        # Data after our close is read, not returned; the peer's close is.
        events = protocol.receiveData(textFrame("ignored") + pingFrame() + closeFrame(4000))
        self.assertEqual(events, [Ping(b""), Close(4000, "")])
        self.assertIs(protocol.state, CLOSED)
        self.assertTrue(protocol.closesTransport)
        self.assertEqual(protocol.dataToSend(), b"")
        self.assertEqual((protocol.closeCode, protocol.closeReason), (4000, "done"))

    def test_closeAnswersThePeersClose(self) -> None:
        """An application's close after the peer's is the reply, once."""
        protocol = opened()
        protocol.receiveData(closeFrame(1000))
        self.assertEqual(decode(protocol.close(1001, "me too")), [Close(1001, "me too")])
        self.assertIs(protocol.state, CLOSED)
        self.assertEqual(protocol.dataToSend(), b"")

    def test_reservedCodeMayNotBeSent(self) -> None:
        protocol = opened()
        self.assertRaises(ValueError, protocol.close, 1006)
        self.assertIs(protocol.state, OPEN)

    def test_hixie76ClosingHandshake(self) -> None:
        protocol = opened(hixie76Request() + SAMPLE_KEY3)
        self.assertEqual(protocol.close(), CLOSE_FRAME)
        self.assertEqual(protocol.receiveData(CLOSE_FRAME), [Close()])
        self.assertTrue(protocol.closesTransport)

    def test_hixie75HangsUp(self) -> None:
        protocol = opened(hixie75Request())
        self.assertEqual(protocol.close(), b"")
        self.assertIs(protocol.state, CLOSED)
        self.assertTrue(protocol.closesTransport)
        self.assertEqual(protocol.closeCode, CloseCode.NORMAL)

    def test_connectionLostWithoutAClose(self) -> None:
        for state in ("handshake", "open", "closing"):
            protocol = server()
            if state != "handshake":
                protocol = opened()
            if state == "closing":
                protocol.close()
            protocol.connectionLost()
            self.assertIs(protocol.state, CLOSED)
            self.assertFalse(protocol.canSend)
            self.assertEqual(protocol.closeCode, CloseCode.ABNORMAL if state != "closing" else 1000)


class FailureTests(SynchronousTestCase):
    def test_messagesBeforeABadFrame(self) -> None:
        protocol = opened()
        events = protocol.receiveData(textFrame("fine") + frame(0x3, b"reserved opcode"))
        self.assertEqual(events[0], "fine")
        error = events[1]
        self.assertIsInstance(error, ProtocolError)
        self.assertIs(protocol.error, error)
        self.assertIs(protocol.state, FAILED)
        self.assertTrue(protocol.canSend, "the answer to 'fine' may still go")
        self.assertFalse(protocol.closesTransport)
        sent = protocol.send("answer") + protocol.dataToSend()
        self.assertEqual(decode(sent), ["answer", Close(1002, error.reason)])
        self.assertTrue(protocol.closesTransport)
        self.assertEqual(protocol.closeCode, 1002)
        self.assertIsNone(error.__traceback__, "kept as a value, not holding frames")

    def test_invalidUtf8(self) -> None:
        protocol = opened()
        [error] = protocol.receiveData(frame(hybi.Opcode.TEXT, b"\xc3\x28"))
        self.assertEqual(error.code, CloseCode.INVALID_PAYLOAD)

    def test_tooBig(self) -> None:
        protocol = server(maxMessageSize=10)
        protocol.receiveData(hybiRequest())
        protocol.accept()
        [error] = protocol.receiveData(binaryFrame(b"x" * 11))
        self.assertEqual(error.code, CloseCode.MESSAGE_TOO_BIG)

    def test_failFromOurSide(self) -> None:
        protocol = opened()
        self.assertEqual(decode(protocol.fail(1011, "oops")), [Close(1011, "oops")])
        self.assertIs(protocol.state, FAILED)
        self.assertTrue(protocol.closesTransport)
        self.assertEqual(protocol.fail(1011, "again"), b"")

    def test_failAfterOurClose(self) -> None:
        protocol = opened()
        protocol.close(1000)
        self.assertEqual(protocol.fail(1011, "oops"), b"")
        self.assertEqual(protocol.closeCode, 1000)


_calls = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), st.sampled_from(["text", "ping", "close", "bad", "raw"])),
        st.tuples(st.just("send"), st.text(max_size=3)),
        st.tuples(st.just("close"), st.sampled_from([None, 1000, 4001])),
        st.tuples(st.just("fail"), st.just(1011)),
        st.tuples(st.just("drain"), st.none()),
        st.tuples(st.just("lost"), st.none()),
    ),
    max_size=15,
)
_FRAMES = {
    "text": textFrame("t"),
    "ping": pingFrame(b"p"),
    "close": closeFrame(1000),
    "bad": frame(0x3, b""),
}


class PropertyTests(SynchronousTestCase):
    @given(_calls, st.binary(max_size=8))
    @settings(max_examples=300, deadline=None)
    def test_anySequenceOfCalls(self, calls, raw) -> None:
        """
        Whatever is asked in whatever order, the protocol raises nothing but
        L{InvalidState} (and only when it cannot send), stays in its table,
        and once ended sends nothing.
        """
        protocol = opened()
        for name, argument in calls:
            mightSend = protocol.canSend
            try:
                if name == "receive":
                    data = raw if argument == "raw" else _FRAMES[argument]
                    for event in protocol.receiveData(data):
                        self.assertIsInstance(event, (str, bytes, Ping, Pong, Close, ProtocolError))
                elif name == "send":
                    protocol.send(argument)
                    self.assertTrue(mightSend)
                elif name == "close":
                    protocol.close(argument)
                elif name == "fail":
                    protocol.fail(argument, "failed")
                elif name == "drain":
                    protocol.dataToSend()
                else:
                    protocol.connectionLost()
            except InvalidState:
                self.assertEqual(name, "send")
                self.assertFalse(mightSend)
            self.assertIn(protocol.state, _TRANSITIONS)
            if protocol.state is CLOSED and not protocol.canSend:
                self.assertEqual(protocol.close(), b"")


# The client role, driven against the server role through a fake network
# (the way h11's tests pair a client and a server connection).


URL = parseURL("ws://server.example:8080/chat?room=1")


def client(version: WebSocketVersion = WebSocketVersion.RFC6455, **options: Any):
    """A client protocol and the request it sends."""
    protocol = WebSocketProtocol(Role.CLIENT, **LIMITS)
    handshake = ClientHandshake.new(URL, version=version, **options)
    return protocol, protocol.connect(handshake)


def pump(source: bytes, sink: WebSocketProtocol, size: int) -> list[Any]:
    """Everything C{sink} makes of C{source}, read C{size} bytes at a time."""
    events: list[Any] = []
    for piece in chunks(source, size) if source else []:
        events += sink.receiveData(piece)
    return events


class ClientRoleTests(SynchronousTestCase):
    def connected(
        self, version: WebSocketVersion, size: int = 1 << 20, deflate: bool = False
    ) -> tuple[WebSocketProtocol, WebSocketProtocol]:
        """A client and a server protocol through their handshake."""
        cli, request = client(version, deflate=DEFAULT_DEFLATE if deflate else None)
        srv = server()
        [opening] = pump(request, srv, size)
        self.assertIs(opening.version, version)
        events = pump(srv.accept(deflate=DEFAULT_DEFLATE), cli, size)
        self.assertEqual([type(e) for e in events], [Accepted])
        self.assertIs(cli.state, OPEN)
        self.assertIs(cli.version, version)
        return cli, srv

    def test_everyVersionEveryChunking(self) -> None:
        for version in WebSocketVersion:
            for size in (1, 2, 3, 7, 64, 1 << 20):
                cli, srv = self.connected(version, size)
                self.assertEqual(pump(cli.send("up ☃"), srv, size), ["up ☃"])
                self.assertEqual(pump(srv.send("down ☃"), cli, size), ["down ☃"])
                if not version.isHixie:
                    self.assertEqual(pump(cli.send(b"\x00\xff"), srv, size), [b"\x00\xff"])
                    self.assertEqual(pump(srv.ping(b"?"), cli, size), [Ping(b"?")])
                    self.assertEqual(pump(cli.pong(b"?"), srv, size), [Pong(b"?")])

    def test_clientFramesAreMasked(self) -> None:
        cli, srv = self.connected(WebSocketVersion.RFC6455)
        frame = cli.send("x")
        self.assertEqual(frame[1] & hybi.MASK_BIT, hybi.MASK_BIT)
        self.assertNotEqual(cli.send("x"), frame, "a fresh key per frame")

    def test_maskedServerFramesFail(self) -> None:
        cli, srv = self.connected(WebSocketVersion.RFC6455)
        [error] = cli.receiveData(frame(hybi.Opcode.TEXT, b"masked"))
        self.assertEqual(error.code, CloseCode.PROTOCOL_ERROR)
        self.assertIs(cli.state, FAILED)

    def test_deflateBothWays(self) -> None:
        cli, srv = self.connected(WebSocketVersion.RFC6455, deflate=True)
        self.assertIsNotNone(cli.extensions)
        self.assertEqual(cli.extensions, srv.extensions)
        text = "compress me, " * 40
        up = cli.send(text)
        self.assertEqual(up[0] & 0x40, 0x40)
        self.assertEqual(srv.receiveData(up), [text])
        self.assertEqual(cli.receiveData(srv.send(text)), [text])

    def test_clientClosesAndWaitsForTheServer(self) -> None:
        for version in (WebSocketVersion.RFC6455, WebSocketVersion.HIXIE_76):
            cli, srv = self.connected(version)
            pump(cli.close(1000, "bye"), srv, 5)
            self.assertTrue(srv.closeReceived)
            pump(srv.dataToSend(), cli, 5)
            self.assertIs(srv.state, CLOSED)
            self.assertTrue(srv.closesTransport, "the server closes TCP")
            self.assertIs(cli.state, CLOSED)
            self.assertFalse(cli.closesTransport, "the client waits for it")

    def test_serverClosesAndTheClientAnswers(self) -> None:
        cli, srv = self.connected(WebSocketVersion.HYBI_10)
        events = cli.receiveData(srv.close(4001, "later"))
        self.assertEqual(events, [Close(4001, "later")])
        srv.receiveData(cli.dataToSend())
        self.assertEqual((cli.state, srv.state), (CLOSED, CLOSED))
        self.assertEqual((cli.closeCode, cli.closeReason), (4001, "later"))

    def test_hixie75ClientHangsUp(self) -> None:
        cli, srv = self.connected(WebSocketVersion.HIXIE_75)
        self.assertEqual(cli.close(), b"")
        self.assertTrue(cli.closesTransport)

    def test_framesGluedToThe101(self) -> None:
        cli, request = client()
        srv = server()
        srv.receiveData(request)
        events = cli.receiveData(srv.accept() + srv.send("welcome"))
        self.assertEqual([type(e) for e in events], [Accepted, str])
        self.assertEqual(events[1], "welcome")

    def test_refusedWithItsBody(self) -> None:
        cli, request = client()
        srv = server()
        srv.receiveData(request)
        [error] = cli.receiveData(srv.refuse(HandshakeError(403, "not you")))
        self.assertIsInstance(error, HandshakeRefused)
        self.assertEqual((error.status, error.body), (403, b"not you\n"))
        self.assertIs(cli.state, FAILED)
        self.assertTrue(cli.closesTransport)
        self.assertIsNone(error.__traceback__)

    def test_refusalWhoseBodyEndsWithTheConnection(self) -> None:
        cli, _ = client()
        self.assertEqual(cli.receiveData(b"HTTP/1.1 503 Busy\r\n\r\ntry again"), [])
        [error] = cli.connectionLost()
        self.assertIsInstance(error, HandshakeRefused)
        self.assertEqual((error.status, error.body), (503, b"try again"))
        self.assertIs(cli.state, FAILED)

    def test_connectionLostDuringTheHandshake(self) -> None:
        cli, _ = client()
        cli.receiveData(b"HTTP/1.1 101 Switching")
        [error] = cli.connectionLost()
        self.assertIsInstance(error, InvalidHandshakeResponse)

    def test_wrongAccept(self) -> None:
        cli, _ = client()
        response = (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmc=\r\n\r\n"
        )
        [error] = cli.receiveData(response)
        self.assertIsInstance(error, InvalidHandshakeResponse)
        self.assertIs(cli.state, FAILED)
        self.assertRaises(InvalidState, cli.send, "no")

    def test_oversizedResponseHead(self) -> None:
        cli, _ = client()
        [error] = cli.receiveData(b"HTTP/1.1 101 OK\r\nX: " + b"y" * 20000)
        self.assertIsInstance(error, InvalidHandshakeResponse)

    def test_connectOnceAndOnlyAsAClient(self) -> None:
        cli, _ = client()
        handshake = ClientHandshake.new(URL)
        self.assertRaises(InvalidState, cli.connect, handshake)
        self.assertRaises(InvalidState, server().connect, handshake)
