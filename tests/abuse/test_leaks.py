"""
Leaks: closed connections must be freed by reference counting alone (no
reference cycles between the connection, its protocol and the application's
view of it), and a server that served thousands of connections must be back
to its file descriptors and, within a tolerance, its memory.

L{TransportConnection} and L{WebSocketConnection} have C{__slots__} without
C{__weakref__}, so they cannot be weakly referenced: what is alive is counted
in C{gc.get_objects()} instead (with the collector disabled, an object in a
cycle stays there until a collection).  L{ServerProtocol} is checked with a
weak reference as well.  When objects survive, the failure names the
references that form the cycles keeping them (see L{findCycles}).
"""

from __future__ import annotations

import asyncio
import gc
import types
import weakref
from collections.abc import Callable

from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

import ratchet_tx.connection
import ratchet_tx.dispatch
import ratchet_tx.server
import ratchet_tx.websocket.adapter
import ratchet_tx.websocket.connection
import ratchet_tx.websocket.layer
from bench.leaks import runCycles
from ratchet_tx.connection import TransportConnection
from ratchet_tx.examples.echo import Echo
from ratchet_tx.server import Server, ServerProtocol
from ratchet_tx.websocket import WebSocket, WebSocketConnection
from tests.abuse.support import (
    Baseline,
    fdCount,
    record,
    rssKiB,
    settle,
    startProbe,
)
from tests.websocket.helpers import (
    SAMPLE_KEY3,
    RecordingTransport,
    closeFrame,
    frame,
    hixie76Request,
    hixieText,
    hybiRequest,
    textFrame,
)

#: Connections per way of ending, in the in-memory checks.
CONNECTIONS = 50
#: The types whose instances must all be gone once their connections are.
CONNECTION_TYPES = (ServerProtocol, TransportConnection, WebSocketConnection)
#: Connect/exchange/disconnect cycles in the real-socket check, and how many
#: at a time.
CYCLES = 5000
CONCURRENCY = 8
#: RSS growth allowed over those cycles, after a warm-up of 1000.
CYCLES_RSS_TOLERANCE_KIB = 2048


class RealisticTransport(RecordingTransport):
    """
    A L{RecordingTransport} that, once its connection is lost, lets go of
    its protocol and producer as Twisted's TCP transports do (so whatever
    survives is the server's doing, not the fake's).
    """

    def registerProducer(self, producer, streaming) -> None:
        self.producer = producer
        self.streaming = streaming

    def unregisterProducer(self) -> None:
        self.producer = None

    def reportLost(self, reason: Failure | None = None) -> None:
        if self.connected and self.protocol is not None:
            self.connected = False
            proto, self.protocol = self.protocol, None
            self.producer = None
            proto.connectionLost(reason or Failure(ConnectionDone("closed")))


def _edges(source: object) -> list[tuple[str, object]]:
    """The references C{source} holds, each with a name for it."""
    out: list[tuple[str, object]] = []
    attributes = getattr(source, "__dict__", None)
    if isinstance(attributes, dict):
        out.extend((f".{name}", value) for name, value in attributes.items())
    for cls in type(source).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            try:
                out.append((f".{slot}", getattr(source, slot)))
            except AttributeError:
                pass
    if isinstance(source, dict):
        out.extend((f"[{key!r}]", value) for key, value in source.items())
    if isinstance(source, (list, tuple, set, frozenset)):
        out.extend((f"[{index}]", value) for index, value in enumerate(source))
    if isinstance(source, types.MethodType):
        out.append((".__self__", source.__self__))
    return out


_LEAVES = (type, types.ModuleType, types.FunctionType, str, bytes, int, float)


def findCycles(start: object, depth: int = 6) -> list[str]:
    """
    Every chain of references from C{start} back to itself (one per
    reference C{start} holds), named like C{"TransportConnection.view ->
    WebSocketConnection._out -> back"}.
    """

    def walk(node: object, path: list[str], left: int, seen: set[int]) -> list[str] | None:
        if not left:
            return None
        for name, target in _edges(node):
            step = [*path, type(node).__name__ + name]
            if target is start:
                return step
            if isinstance(target, _LEAVES) or id(target) in seen:
                continue
            seen.add(id(target))
            found = walk(target, step, left - 1, seen)
            if found:
                return found
        return None

    cycles = []
    for name, target in _edges(start):
        first = type(start).__name__ + name
        if target is start:
            cycles.append(f"{first} -> back")
        elif not isinstance(target, _LEAVES):
            found = walk(target, [first], depth, {id(start), id(target)})
            if found:
                cycles.append(" -> ".join([*found, "back"]))
    return cycles


def alive(besides: frozenset[int] = frozenset()) -> dict[str, list[object]]:
    """
    Every live instance of L{CONNECTION_TYPES} whose id is not in
    C{besides}, by type name.
    """
    found: dict[str, list[object]] = {}
    for obj in gc.get_objects():
        if isinstance(obj, CONNECTION_TYPES) and id(obj) not in besides:
            found.setdefault(type(obj).__name__, []).append(obj)
    return found


def describeSurvivors(besides: frozenset[int] = frozenset()) -> str:
    """What survived (but C{besides}), and the cycles holding one of each kind."""
    lines = []
    for name, objects in sorted(alive(besides).items()):
        cycles = sorted({cycle for obj in objects for cycle in findCycles(obj)})
        cycles = cycles or ["(no cycle through it: held from outside)"]
        lines.append(f"{len(objects)} {name}: " + "; ".join(cycles))
        del objects
    return "\n".join(lines)


class CollectedWithoutGCTestCase(SynchronousTestCase):
    """
    The collector is off while each test runs; the connection modules'
    loggers are silenced, so that log events (which name connections) are
    not kept by an unstarted log system's buffer.
    """

    def setUp(self) -> None:
        gc.collect()
        # Connections of earlier tests may still be held (by a log buffer, a
        # finished test case...): they are kept alive, so that their ids are
        # not reused, and left out of the counts.
        self.earlier = [obj for objects in alive().values() for obj in objects]
        self.besides = frozenset(map(id, self.earlier))
        gc.disable()
        self.addCleanup(gc.enable)
        quiet = Logger(observer=lambda event: None)
        for module in (
            ratchet_tx.connection,
            ratchet_tx.dispatch,
            ratchet_tx.server,
            ratchet_tx.websocket.adapter,
            ratchet_tx.websocket.connection,
            ratchet_tx.websocket.layer,
        ):
            self.patch(module, "log", quiet)
        self.clock = Clock()

    def webSocketServer(self, **options) -> Server:
        options.setdefault("pingInterval", None)
        return Server(WebSocket(Echo(), clock=self.clock, **options))

    def connect(self, server: Server, host: str = "192.0.2.7"):
        transport = RealisticTransport()
        proto = server.buildProtocol(transport.getPeer())
        transport.protocol = proto
        proto.makeConnection(transport)
        return proto, transport

    def survivors(
        self,
        server: Server,
        end: Callable[[ServerProtocol, RealisticTransport], None],
        count: int = CONNECTIONS,
    ) -> tuple[str, int]:
        """
        Open C{count} connections to C{server} and C{end} each; return what
        survived them (described) and how many protocols are still weakly
        reachable.
        """
        refs = []
        for _ in range(count):
            proto, transport = self.connect(server)
            end(proto, transport)
            refs.append(weakref.ref(proto))
            del proto, transport
        self.assertEqual(server.protocols, set())
        layer = server.app
        if isinstance(layer, WebSocket):
            self.assertEqual((layer._connections, layer._openCount, layer._admitted), ({}, 0, 0))
        protocols = sum(ref() is not None for ref in refs)
        return describeSurvivors(self.besides), protocols

    def assertCollectedWithoutGC(
        self, server: Server, endings: dict[str, Callable], label: str
    ) -> None:
        """
        For each way a connection may end, nothing of it survives without a
        collection; what did is recorded under C{label} and fails the test.
        """
        report = {}
        for name, end in endings.items():
            description, protocols = self.survivors(server, end)
            if description or protocols:
                report[name] = f"{protocols} protocols weakly reachable; {description}"
            gc.collect()
        record(f"collected without GC ({label})", survivors=report)
        self.assertEqual(report, {}, "\n" + "\n".join(f"{k}: {v}" for k, v in report.items()))


def closeHandshake(proto, transport) -> None:
    proto.dataReceived(hybiRequest(13) + textFrame("hello") + closeFrame(1000))


def serverCloses(proto, transport) -> None:
    proto.dataReceived(hybiRequest(13))
    proto.connection.view.close(1000, "bye")
    proto.dataReceived(closeFrame(1000))


def peerResets(proto, transport) -> None:
    proto.dataReceived(hybiRequest(13) + textFrame("hello"))
    transport.reportLost(Failure(ConnectionLost("reset")))


def makeTimeouts(clock: Clock):
    def handshakeTimeout(proto, transport) -> None:
        proto.dataReceived(b"GET / HTTP/1.1\r\n")
        clock.advance(60)

    def closeTimeout(proto, transport) -> None:
        proto.dataReceived(hybiRequest(13))
        proto.connection.view.close(1000)
        clock.advance(60)

    return handshakeTimeout, closeTimeout


def protocolError(proto, transport) -> None:
    proto.dataReceived(hybiRequest(13) + frame(0x3, b"reserved opcode"))


def refused(proto, transport) -> None:
    proto.dataReceived(hybiRequest(9))


def hixie76(proto, transport) -> None:
    proto.dataReceived(hixie76Request() + SAMPLE_KEY3 + hixieText("hello") + b"\xff\x00")


class WebSocketCollectedTests(CollectedWithoutGCTestCase):
    def endings(self) -> dict[str, Callable]:
        handshakeTimeout, closeTimeout = makeTimeouts(self.clock)
        return {
            "closing handshake": closeHandshake,
            "server closes": serverCloses,
            "peer resets": peerResets,
            "handshake timeout": handshakeTimeout,
            "close timeout": closeTimeout,
            "protocol error": protocolError,
            "refused (426)": refused,
            "hixie-76": hixie76,
        }

    def test_collectedWithoutGC(self) -> None:
        """
        However a WebSocket connection ends, its protocol, connection and
        WebSocket view are freed as soon as it is gone.
        """
        # Regression (fixed in d984c56 by TransportConnection.release()):
        # reference cycles kept every closed connection until the cyclic GC
        # ran:
        #   1. TransportConnection.view -> WebSocketConnection, and back via
        #      WebSocketConnection._out (and .wrapped) -> TransportConnection,
        #      on every WebSocket connection, however it ended;
        #   2. ServerProtocol.connection -> TransportConnection._producer ->
        #      ServerProtocol, whenever the connection ended without
        #      TransportConnection.close() (peer close or reset, abort,
        #      timeouts), since only close() cleared _producer.
        server = self.webSocketServer(handshakeTimeout=5, closeTimeout=5)
        self.assertCollectedWithoutGC(server, self.endings(), "WebSocket")

    def test_collectedByGC(self) -> None:
        """
        Nothing holds a closed connection from outside: a collection frees
        every one of them (so what the test above finds are cycles only).
        """
        server = self.webSocketServer(handshakeTimeout=5, closeTimeout=5)
        for end in self.endings().values():
            self.survivors(server, end)
        gc.collect()
        self.assertEqual(describeSurvivors(self.besides), "")


class RawCollectedTests(CollectedWithoutGCTestCase):
    def test_collectedWithoutGC(self) -> None:
        """Plain TCP: the protocol and connection are freed once the peer closes."""
        # Regression (fixed in d984c56): TransportConnection.view -> itself
        # (the default view was the connection itself), on every raw
        # connection; and ServerProtocol.connection ->
        # TransportConnection._producer -> ServerProtocol when the peer
        # closed.
        endings = {
            "peer closes": lambda proto, transport: (
                proto.dataReceived(b"x"),
                transport.reportLost(),
            ),
            "server closes": lambda proto, transport: proto.connection.close(),
        }
        self.assertCollectedWithoutGC(Server(Echo()), endings, "raw")

    def test_collectedByGC(self) -> None:
        server = Server(Echo())
        self.survivors(server, lambda proto, transport: transport.reportLost())
        gc.collect()
        self.assertEqual(describeSurvivors(self.besides), "")


class RealSocketCycleTests(SynchronousTestCase):
    """
    L{CYCLES} connect/exchange/disconnect cycles against a twistd over
    loopback (the collector on, as in production): its file descriptors come
    back exactly, its RSS within L{CYCLES_RSS_TOLERANCE_KIB}.
    """

    def test_cycles(self) -> None:
        proc = startProbe("--listen", "tcp:0:interface=127.0.0.1:backlog=1024")
        self.addCleanup(proc.stop)
        warm = asyncio.run(runCycles(proc.port, 1000, CONCURRENCY))
        self.assertEqual(warm["errors"], 0, warm)
        baseline = Baseline(proc)
        samples = []

        def sample(done: int) -> None:
            samples.append((done, rssKiB(proc.pid), fdCount(proc.pid)))

        result = asyncio.run(runCycles(proc.port, CYCLES, CONCURRENCY, 1000, sample))
        self.assertEqual(result["errors"], 0, result)
        fds = settle(proc, baseline.fds)
        rss = rssKiB(proc.pid)
        record(
            "real-socket cycles",
            cycles=CYCLES,
            rssBeforeKiB=baseline.rss,
            rssAfterKiB=rss,
            fdsBefore=baseline.fds,
            fdsAfter=fds,
            samples=samples,
        )
        self.assertEqual(fds, baseline.fds)
        self.assertLess(rss - baseline.rss, CYCLES_RSS_TOLERANCE_KIB, samples)
