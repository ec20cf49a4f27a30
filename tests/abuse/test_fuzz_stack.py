"""
The whole stack in memory, fuzzed: C{Server(WebSocket(app, clock=...))} over
in-memory transports, driven by a Hypothesis state machine.

Rules open connections (every version, and garbage), feed them valid,
invalid and partial data in random reads, close them from either side,
abort them, let the clock run (handshake, close and ping timeouts, the
heartbeat), and the application answers each callback with a random command:
nothing, send, broadcast, close, abort, a command that fails, a Deferred
that fires later.  Invariants, after every step:

  - C{onOpen} and C{onClose} at most once per connection, C{onClose} only
    after C{onOpen}, nothing delivered after C{onClose};
  - no exception escapes into the caller (the "reactor"), and nothing is
    logged at error level but the application errors provoked on purpose;
  - the layer's books agree with what is open.

And once every connection is gone: each opened one was closed exactly once,
and the layer holds nothing (C{_connections}, C{_open}, C{_admitted},
C{_perAddress}), nor the server (C{protocols}), nor the clock (no pending
call but none).

Also here: resets at every byte offset of every version's handshake and
first frames, exhaustively.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from fuzz.targets import MUTATIONS, mutate
from ratchet_tx.commands import Call, CloseConnection, Composite, SendMessage
from ratchet_tx.interfaces import IApplication, IConnection
from ratchet_tx.server import Server
from ratchet_tx.websocket import WebSocket
from ratchet_tx.websocket.codecs import hybi
from tests.abuse.support import record
from tests.websocket.helpers import (
    SAMPLE_KEY3,
    RecordingTransport,
    closeFrame,
    frame,
    hixie75Request,
    hixie76Request,
    hixieText,
    hybiRequest,
    pingFrame,
    textFrame,
)


class ProvokedError(Exception):
    """An application error the fuzzer asked for."""


#: The answers the application may give, drawn by the machine.
ANSWERS = (
    "none",
    "echo",
    "broadcast",
    "close",
    "closeCode",
    "abort",
    "fail",
    "failOnError",
    "later",
    "binary",
    "badCode",
)


@implementer(IApplication)
class FuzzApp:
    """
    Records every callback per connection and answers with the next answer
    the machine planned (C{"none"} when it planned none).
    """

    def __init__(self, clock: MemoryReactorClock) -> None:
        self.clock = clock
        self.plan: list[str] = []
        self.opened: Counter[IConnection] = Counter()
        self.closed: Counter[IConnection] = Counter()
        self.problems: list[str] = []
        self.open: set[IConnection] = set()

    def answer(self, conn: IConnection, message: Any = "x") -> Any:
        kind = self.plan.pop(0) if self.plan else "none"
        if kind == "echo":
            return SendMessage(conn, message)
        if kind == "broadcast":
            return Composite(SendMessage(c, "all") for c in list(self.open))
        if kind == "close":
            return CloseConnection(conn)
        if kind == "closeCode":
            return CloseConnection(conn, 4000, "fuzz")
        if kind == "abort":
            return Call(conn.abort)
        if kind == "fail":
            raise ProvokedError("provoked")
        if kind == "failOnError":
            self.plan.insert(0, "fail")
            raise ProvokedError("provoked, and onError will fail too")
        if kind == "later":
            d: Deferred[Any] = Deferred()
            self.clock.callLater(1, d.callback, SendMessage(conn, "later"))
            return d
        if kind == "binary":
            # BinaryNotSupported on a Hixie connection: an application error.
            return SendMessage(conn, b"\x00\xff")
        if kind == "badCode":
            # ValueError from close(): an application error too.
            return CloseConnection(conn, 1005)
        return None

    def onOpen(self, conn: IConnection) -> Any:
        if self.opened[conn] or self.closed[conn]:
            self.problems.append(f"onOpen again for {conn!r}")
        self.opened[conn] += 1
        self.open.add(conn)
        return self.answer(conn)

    def onMessage(self, conn: IConnection, message: str | bytes) -> Any:
        if conn not in self.open:
            self.problems.append(f"onMessage for a connection not open: {conn!r}")
        return self.answer(conn, message)

    def onClose(self, conn: IConnection) -> Any:
        if not self.opened[conn] or self.closed[conn]:
            self.problems.append(f"onClose without onOpen, or twice, for {conn!r}")
        self.closed[conn] += 1
        self.open.discard(conn)
        return self.answer(conn)

    def onError(self, conn: IConnection, failure: Failure) -> Any:
        if not failure.check(ProvokedError, TypeError, ValueError):
            self.problems.append(f"unexpected application error {failure!r}")
        return self.answer(conn)


class Transport(RecordingTransport):
    """
    An in-memory transport from C{host} that, like Twisted's TCP transports,
    forgets its protocol once the connection is lost; with
    C{disconnectAtOnce=False} a graceful close waits for L{flush}.
    """

    def __init__(self, host: str, port: int, disconnectAtOnce: bool) -> None:
        super().__init__(port, disconnectAtOnce)
        self.peerAddr = IPv4Address("TCP", host, port)

    def reportLost(self, reason: Failure | None = None) -> None:
        if self.connected and self.protocol is not None:
            self.connected = False
            proto, self.protocol = self.protocol, None
            proto.connectionLost(reason or Failure(ConnectionDone("closed")))


#: Client addresses: a few (so the per-address limit is reached), one blocked.
HOSTS = ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.1", "192.0.2.2", "198.51.100.66")
#: Handshakes that succeed (unless a limit says no).
VALID_HANDSHAKES = (
    hybiRequest(13),
    hybiRequest(8),
    hybiRequest(7),
    hybiRequest(13, extra=["X-Forwarded-For: 203.0.113.9"]),
    hixie76Request() + SAMPLE_KEY3,
    hixie75Request(),
)


def handshakes() -> st.SearchStrategy[bytes]:
    valid = st.sampled_from(
        [
            hybiRequest(13),
            hybiRequest(8),
            hybiRequest(7),
            hybiRequest(13, extra=["X-Forwarded-For: 203.0.113.9"]),
            hybiRequest(13, extra=["X-Forwarded-For: 198.51.100.66"]),
            hixie76Request() + SAMPLE_KEY3,
            hixie76Request(),
            hixie75Request(),
            hybiRequest(9),
            b"GET / HTTP/1.1\r\n",
            b"\x16\x03\x01\x00\xa5",  # a TLS ClientHello on a plain port
        ]
    )
    ops = st.lists(
        st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 999), st.integers(0, 999)), max_size=3
    )
    return st.builds(mutate, valid, ops)


def frames() -> st.SearchStrategy[bytes]:
    valid = st.sampled_from(
        [
            textFrame("hello"),
            textFrame("é" * 100),
            frame(hybi.Opcode.BINARY, b"\x00" * 300),
            textFrame("frag", fin=False),
            frame(hybi.Opcode.CONTINUATION, b"ment"),
            pingFrame(b"p"),
            closeFrame(1000, "bye"),
            closeFrame(None),
            closeFrame(4000),
            hixieText("hixie"),
            b"\xff\x00",
            b"\x00never ends",
            frame(hybi.Opcode.TEXT, b"\xff\xfe"),  # invalid UTF-8
            frame(0x3, b"reserved"),
            b"\x82\xff" + (2**63 - 1).to_bytes(8, "big") + os.urandom(4),
        ]
    )
    ops = st.lists(
        st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 999), st.integers(0, 999)), max_size=2
    )
    return st.one_of(st.builds(mutate, valid, ops), st.binary(max_size=64))


class StackMachine(RuleBasedStateMachine):
    peers = Bundle("peers")

    @initialize(trusted=st.integers(0, 1), limits=st.booleans())
    def serve(self, trusted: int, limits: bool) -> None:
        self.clock = MemoryReactorClock()
        self.app = FuzzApp(self.clock)
        options: dict[str, Any] = {
            "maxMessageSize": 256,
            "maxHandshakeSize": 1024,
            "handshakeTimeout": 5,
            "closeTimeout": 2,
            "pingInterval": 3,
            "pingTimeout": 3,
            "hixieIdleTimeout": 8,
            "trustedProxies": trusted,
            "blocked": ["198.51.100.66/32"],
        }
        if limits:
            options.update(maxConnections=4, maxConnectionsPerAddress=2)
        self.layer = WebSocket(self.app, clock=self.clock, **options)
        self.server = Server(self.layer)
        self.events: list[dict] = []
        globalLogPublisher.addObserver(self.events.append)
        self.ports = iter(range(10000, 60000))
        self.transports: list[Transport] = []

    def teardown(self) -> None:
        if not hasattr(self, "server"):
            return
        try:
            for transport in self.transports:
                transport.reportLost()
            # Every connection is gone: no timer may be left for one (only
            # the application's own "later" answers may be pending).
            timers = [
                call
                for call in self.clock.getDelayedCalls()
                if call.active() and not isinstance(getattr(call.func, "__self__", None), Deferred)
            ]
            assert timers == [], timers
            self.clock.advance(100)
            self.check()
            layer = self.layer
            assert layer._connections == {}, layer._connections
            assert layer.connections == set(), layer.connections
            assert layer._openCount == 0, layer._openCount
            assert layer._admitted == 0, layer._admitted
            assert layer._perAddress == {}, layer._perAddress
            assert self.server.protocols == set()
            assert self.app.open == set()
            for conn, count in self.app.opened.items():
                assert self.app.closed[conn] == count == 1, (conn, count, self.app.closed[conn])
            pending = [c for c in self.clock.getDelayedCalls() if c.active()]
            assert pending == [], pending
        finally:
            globalLogPublisher.removeObserver(self.events.append)

    def check(self) -> None:
        assert self.app.problems == [], self.app.problems
        for event in self.events:
            if event.get("log_level") not in (LogLevel.error, LogLevel.critical):
                continue
            failure = event.get("log_failure")
            provoked = failure is not None and failure.check(ProvokedError, TypeError, ValueError)
            assert provoked, (event.get("log_format"), failure)

    @invariant()
    def booksAgree(self) -> None:
        if not hasattr(self, "server"):
            return
        self.check()
        opened = self.layer.connections
        assert opened == {c for c in self.app.open}, (opened, self.app.open)
        assert self.layer._openCount == len(opened), (self.layer._openCount, opened)
        assert self.layer._admitted == sum(self.layer._perAddress.values())
        assert self.layer._admitted >= len(opened)

    @rule(target=peers, host=st.sampled_from(HOSTS), atOnce=st.booleans())
    def connect(self, host: str, atOnce: bool) -> Transport:
        transport = Transport(host, next(self.ports), atOnce)
        proto = self.server.buildProtocol(transport.getPeer())
        transport.protocol = proto
        proto.makeConnection(transport)
        self.transports.append(transport)
        return transport

    @rule(
        target=peers,
        host=st.sampled_from(HOSTS),
        atOnce=st.booleans(),
        data=st.sampled_from(VALID_HANDSHAKES),
        size=st.integers(1, 400),
    )
    def open(self, host: str, atOnce: bool, data: bytes, size: int) -> Transport:
        transport = self.connect(host, atOnce)
        self.feed(transport, data, size)
        return transport

    @rule(peer=peers, data=handshakes(), size=st.integers(1, 400))
    def handshake(self, peer: Transport, data: bytes, size: int) -> None:
        self.feed(peer, data, size)

    @rule(peer=peers, data=frames(), size=st.integers(1, 64))
    def send(self, peer: Transport, data: bytes, size: int) -> None:
        self.feed(peer, data, size)

    def feed(self, peer: Transport, data: bytes, size: int) -> None:
        for at in range(0, len(data), size):
            if peer.protocol is None:
                return
            peer.protocol.dataReceived(data[at : at + size])

    @rule(answers=st.lists(st.sampled_from(ANSWERS), min_size=1, max_size=4))
    def plan(self, answers: list[str]) -> None:
        self.app.plan.extend(answers)

    @rule(peer=consumes(peers), reset=st.booleans())
    def peerGoes(self, peer: Transport, reset: bool) -> None:
        peer.reportLost(Failure(ConnectionLost("reset")) if reset else None)

    @rule(peer=peers)
    def flush(self, peer: Transport) -> None:
        """A graceful close the server asked for completes."""
        if peer.disconnecting:
            peer.reportLost()

    @rule(peer=peers, code=st.sampled_from([None, 1000, 1001, 4001]))
    def serverCloses(self, peer: Transport, code: int | None) -> None:
        if peer.protocol is not None:
            peer.protocol.connection.view.close(code, "server")

    @rule(peer=peers)
    def serverAborts(self, peer: Transport) -> None:
        if peer.protocol is not None:
            peer.protocol.connection.view.abort()

    @rule(seconds=st.sampled_from([0.1, 1, 2.5, 5, 30]))
    def time(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def shutDown(self) -> None:
        self.server.closeAll(timeout=3, clock=self.clock)

    @rule(data=st.data())
    def several(self, data: st.DataObject) -> None:
        """A burst: a few new connections that handshake at once."""
        for _ in range(data.draw(st.integers(1, 3))):
            transport = self.connect(data.draw(st.sampled_from(HOSTS)), True)
            self.feed(transport, data.draw(handshakes()), 1000)


#: Runs of the machine, and steps per run ($RATCHET_FUZZ_EXAMPLES / 3 runs
#: for a longer search).
EXAMPLES = int(os.environ.get("RATCHET_FUZZ_EXAMPLES", "360")) // 3
STEPS = 30


class StackFuzzTests(SynchronousTestCase):
    def test_stack(self) -> None:
        run_state_machine_as_test(
            StackMachine,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
        # The application errors provoked on purpose were logged, as they
        # should be; any other logged error still fails the test.
        self.flushLoggedErrors(ProvokedError, TypeError, ValueError)
        record("stateful stack fuzz", examples=EXAMPLES, steps=STEPS)


class EchoingFuzzApp(FuzzApp):
    """A L{FuzzApp} that echoes every message and answers nothing else."""

    def answer(self, conn: IConnection, message: Any = None) -> Any:
        return None if message is None else SendMessage(conn, message)

    def onOpen(self, conn: IConnection) -> Any:
        super().onOpen(conn)
        return None


def streams() -> list[tuple[str, bytes]]:
    """Each version's handshake followed by its first frames and its close."""
    hybiFrames = (
        textFrame("hello")
        + frame(hybi.Opcode.BINARY, b"\x00\x01", fin=False)
        + pingFrame(b"p")
        + frame(hybi.Opcode.CONTINUATION, b"\x02")
        + closeFrame(1000, "bye")
    )
    hixieFrames = hixieText("hello") + hixieText("é") + b"\xff\x00"
    return [
        ("rfc6455", hybiRequest(13) + hybiFrames),
        ("hybi-10", hybiRequest(8) + hybiFrames),
        ("hybi-07", hybiRequest(7) + hybiFrames),
        ("hixie-76", hixie76Request() + SAMPLE_KEY3 + hixieFrames),
        ("hixie-75", hixie75Request() + hixieText("hello") + hixieText("é")),
    ]


class ResetAtEveryOffsetTests(SynchronousTestCase):
    """
    A connection reset after every prefix of a whole conversation, of every
    version, fed in one read or a byte at a time: no exception escapes,
    C{onClose} follows C{onOpen} exactly once when the handshake completed
    (and never otherwise), nothing is logged at error level, and the layer
    holds nothing afterwards.
    """

    def test_everyOffset(self) -> None:
        clock = MemoryReactorClock()
        app = EchoingFuzzApp(clock)
        layer = WebSocket(app, clock=clock)
        server = Server(layer)
        events: list[dict] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        ports = iter(range(10000, 60000))
        resets = 0
        for name, stream in streams():
            for offset in range(len(stream) + 1):
                for size in (len(stream) or 1, 1):
                    transport = Transport("192.0.2.1", next(ports), True)
                    proto = server.buildProtocol(transport.getPeer())
                    transport.protocol = proto
                    proto.makeConnection(transport)
                    for at in range(0, offset, size):
                        if transport.protocol is None:
                            break
                        proto.dataReceived(stream[at : min(at + size, offset)])
                    transport.reportLost(Failure(ConnectionLost("reset")))
                    resets += 1
                    self.assertEqual(app.problems, [], (name, offset, size))
        clock.advance(1000)
        self.assertEqual(app.open, set())
        self.assertTrue(app.opened)
        for conn, count in app.opened.items():
            self.assertEqual((count, app.closed[conn]), (1, 1), conn)
        self.assertEqual(
            (layer._connections, layer._openCount, layer._admitted, layer._perAddress),
            ({}, 0, 0, {}),
        )
        self.assertEqual(server.protocols, set())
        errors = [e for e in events if e.get("log_level") in (LogLevel.error, LogLevel.critical)]
        self.assertEqual(errors, [])
        record("in-memory resets at every offset", resets=resets, opened=len(app.opened))
