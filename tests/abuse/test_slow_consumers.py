"""
Slow consumers: a client that stops reading must not make the server's
memory grow without bound, and must not slow the others down.

  - Echo: a client that sends without reading is itself paused: once its
    outgoing buffer passes the high-water mark the server stops reading from
    it (the server is the transport's push producer), and resumes when the
    client reads again.
  - Fan-out: a broadcast to a client that does not read is bounded by the
    server's L{SlowConsumer} policy -- QUEUE up to C{maxBuffered} then close
    with 1008, DROP (counted in C{droppedMessages}), or CLOSE with 1008 as
    soon as it backs up -- while the fast clients receive every message.

In process (the real reactor, real loopback sockets, Twisted clients) the
server's own view is checked: C{bufferedAmount} sampled every few
milliseconds, C{backedUp}, the reading state of the transport, the close
code.  Against a real twistd (C{--slow-consumer}, C{--high-water-mark},
C{--max-buffered}) the check is the server's RSS while 3 clients that never
read are sent L{TWISTD_VOLUME} bytes each.
"""

from __future__ import annotations

import select
import socket
import time

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.task import LoopingCall, deferLater
from twisted.trial.unittest import SynchronousTestCase, TestCase

from ratchet_tx.flow import FlowControl, SlowConsumer
from ratchet_tx.server import Server
from ratchet_tx.websocket import WebSocket
from ratchet_tx.websocket.codecs import hybi
from ratchet_tx.websocket.codecs.events import Close
from tests.abuse.apps import Probe
from tests.abuse.support import (
    probeStats,
    rawConnect,
    readHead,
    record,
    rssKiB,
    startProbe,
)
from tests.support.apps import connectTo
from tests.support.transport import listenTCP
from tests.websocket.helpers import Harness, binaryFrame, hybiRequest, textFrame

KiB = 1024
MiB = 1024 * KiB

#: The flow control of the in-process servers.
HIGH_WATER = 256 * KiB
MAX_BUFFERED = 1 * MiB
#: One broadcast message: "B" and this many more bytes.
MESSAGE = 16 * KiB
#: Broadcast messages per in-process test: 24 MiB to every receiver, far
#: more than the kernel's socket buffers and than MAX_BUFFERED.
MESSAGES = 1536
#: The most broadcast messages in flight (sent, not yet received by every
#: fast client): 128 KiB, under the high-water mark.  A client is "fast"
#: if it keeps up with the sender; a burst larger than the high-water mark
#: (plus what the kernel buffers) backs up any client, however fast it reads,
#: and the DROP and CLOSE policies then treat it as slow -- by design.
WINDOW = 8
#: The most bytes a connection may hold past the high-water mark under the
#: DROP and CLOSE policies: it counts as backed up only once a write takes
#: it past the mark, and everything one read from the sender causes goes to
#: it in one write, so that write may carry every message in flight (the
#: sender waits for the receivers when WINDOW // 2 of a batch of WINDOW are
#: still unread).  What the transport counts as waiting is what the kernel
#: refused: Twisted's own transport also counts bytes it already sent.
ONE_WRITE = (WINDOW + WINDOW // 2) * (MESSAGE + 4)  # a frame: 4 bytes of header
#: What every test may take at most, in seconds.
TIMEOUT = 20


class WebSocketClient(Protocol):
    """
    A Twisted RFC 6455 client for the in-process tests: it counts the
    messages it receives, and can stop reading (C{pauseProducing}).

    @ivar opened: fires once the server accepted the handshake.
    @ivar lost: fires when the TCP connection is gone.
    """

    def __init__(self) -> None:
        self.opened: Deferred[WebSocketClient] = Deferred()
        self.lost: Deferred[None] = Deferred()
        self.head = b""
        self.decoder = hybi.FrameDecoder(
            expectMasked=False, maxFrameSize=64 * MiB, maxMessageSize=64 * MiB
        )
        self.received = 0
        self.receivedBytes = 0
        self.closeCode: int | None = None
        self._waiting: list[tuple[int, Deferred]] = []

    def connectionMade(self) -> None:
        self.transport.write(hybiRequest(13, host="127.0.0.1"))

    def dataReceived(self, data: bytes) -> None:
        if not self.opened.called:
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return
            head, _, data = self.head.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101 "), head
            self.opened.callback(self)
        for event in self.decoder.feed(data):
            if type(event) in (str, bytes):
                self.received += 1
                self.receivedBytes += len(event)
            elif type(event) is Close:
                self.closeCode = event.code
        for entry in list(self._waiting):
            if self.received >= entry[0]:
                self._waiting.remove(entry)
                entry[1].callback(self.received)

    def connectionLost(self, reason: object) -> None:
        self.lost.callback(None)

    def waitForMessages(self, count: int) -> Deferred[int]:
        """Fires when C{count} messages have arrived in all."""
        if self.received >= count:
            return succeed(self.received)
        d: Deferred[int] = Deferred()
        self._waiting.append((count, d))
        return d

    def stopReading(self) -> None:
        self.transport.pauseProducing()

    def startReading(self) -> None:
        self.transport.resumeProducing()


class SlowConsumerTestCase(TestCase):
    """A server on a loopback port of the real reactor, and its clients."""

    timeout = TIMEOUT

    def serve(self, policy: SlowConsumer) -> None:
        self.app = Probe()
        self.layer = WebSocket(self.app, clock=reactor, pingInterval=None, closeTimeout=0.5)
        self.server = Server(
            self.layer,
            flow=FlowControl(
                highWaterMark=HIGH_WATER, maxBuffered=MAX_BUFFERED, slowConsumer=policy
            ),
        )
        self.port = listenTCP(reactor, 0, self.server, interface="127.0.0.1")
        self.addCleanup(self.shutDown)
        self.clients: list[WebSocketClient] = []
        self.peak: dict[int, int] = {}
        self.sampler = LoopingCall(self.sample)
        self.sampler.start(0.005)

    def sample(self) -> None:
        """Record the largest C{bufferedAmount} each connection reached."""
        for proto in self.server.protocols:
            conn = proto.connection
            self.peak[conn.id] = max(self.peak.get(conn.id, 0), conn.bufferedAmount)

    def shutDown(self) -> Deferred:
        """Drop every client, wait for the server to see them go, stop listening."""
        return Deferred.fromCoroutine(self._shutDown())

    async def _shutDown(self) -> None:
        if self.sampler.running:
            self.sampler.stop()
        for client in self.clients:
            if client.transport is not None:
                client.transport.abortConnection()
        waits = [client.lost for client in self.clients if not client.lost.called]
        if waits:
            await gatherResults(waits)
        deadline = time.monotonic() + 5
        while self.server.protocols and time.monotonic() < deadline:
            await deferLater(reactor, 0.01, lambda: None)
        await self.port.stopListening()

    def connect(self, receiveBuffer: int | None = None) -> Deferred[WebSocketClient]:
        client = WebSocketClient()
        self.clients.append(client)
        factory = ClientFactory.forProtocol(lambda: client)
        connector = reactor.connectTCP("127.0.0.1", self.port.getHost().port, factory)
        if receiveBuffer is not None:
            connector.transport.socket.setsockopt(
                socket.SOL_SOCKET, socket.SO_RCVBUF, receiveBuffer
            )
        return client.opened

    async def serverLost(self, conn) -> None:
        """
        Wait until the server has dropped C{conn} (a client that does not
        read would never see the reset itself).
        """
        deadline = time.monotonic() + TIMEOUT / 2
        while any(p.connection is conn for p in self.server.protocols):
            self.assertLess(time.monotonic(), deadline, "the slow consumer was never dropped")
            await deferLater(reactor, 0.01, lambda: None)
        self.assertTrue(conn.closed)

    def serverConnection(self, index: int):
        """The server's TransportConnection of the C{index}th client to open."""
        conns = sorted((p.connection for p in self.server.protocols), key=lambda c: c.id)
        return conns[index]

    async def broadcastFrom(
        self, sender: WebSocketClient, receivers: list[WebSocketClient], count: int = MESSAGES
    ) -> float:
        """
        Have C{sender} broadcast C{count} messages, at most L{WINDOW} ahead
        of the slowest of C{receivers} (C{sender} among them); return the
        seconds it took.
        """
        frame = textFrame("B" + "x" * (MESSAGE - 1))
        started = time.monotonic()
        sent = 0
        while sent < count:
            batch = min(WINDOW, count - sent)
            sender.transport.write(frame * batch)
            sent += batch
            await gatherResults([r.waitForMessages(sent - WINDOW // 2) for r in receivers])
        await gatherResults([r.waitForMessages(count) for r in receivers])
        return time.monotonic() - started


class FanOutTests(SlowConsumerTestCase):
    async def fanOut(self, policy: SlowConsumer) -> tuple:
        """
        A sender, a fast receiver and a client that never reads; the sender
        broadcasts L{MESSAGES} messages.
        """
        self.serve(policy)
        sender = await self.connect()
        fast = await self.connect()
        slow = await self.connect(receiveBuffer=4096)
        slow.stopReading()
        slowConn = self.serverConnection(2)
        seconds = await self.broadcastFrom(sender, [sender, fast])
        rate = MESSAGES * MESSAGE / seconds / MiB
        record(
            f"fan-out {policy.value}",
            seconds=round(seconds, 2),
            MiBps=round(rate, 1),
            slowPeakBuffered=self.peak.get(slowConn.id),
            dropped=slowConn.droppedMessages,
        )
        self.assertEqual(sender.received, MESSAGES)
        self.assertEqual(fast.received, MESSAGES)
        return slow, slowConn

    async def test_queueThenClose1008(self) -> None:
        slow, conn = await self.fanOut(SlowConsumer.QUEUE)
        self.assertLessEqual(self.peak[conn.id], MAX_BUFFERED + 2 * MESSAGE)
        await self.serverLost(conn)
        self.assertEqual(self.app.closeCodes[1008], 1)

    async def test_drop(self) -> None:
        slow, conn = await self.fanOut(SlowConsumer.DROP)
        self.assertFalse(conn.closed)
        self.assertGreater(conn.droppedMessages, MESSAGES // 2)
        self.assertLessEqual(self.peak[conn.id], HIGH_WATER + ONE_WRITE)
        # What was not dropped arrives once it reads again.
        slow.startReading()
        delivered = MESSAGES - conn.droppedMessages
        self.assertEqual(await slow.waitForMessages(delivered), delivered)
        self.assertFalse(conn.closed)

    async def test_closeAtOnce1008(self) -> None:
        slow, conn = await self.fanOut(SlowConsumer.CLOSE)
        self.assertLessEqual(self.peak[conn.id], HIGH_WATER + ONE_WRITE)
        await self.serverLost(conn)
        self.assertEqual(self.app.closeCodes[1008], 1)


class ApplicationViewTests(SynchronousTestCase):
    """What an application can see of its connections' flow control."""

    def test_rawConnectionCountsDrops(self) -> None:
        server = Server(Probe(), flow=FlowControl(slowConsumer=SlowConsumer.DROP))
        proto, _ = connectTo(server)
        proto.pauseProducing()
        proto.connection.send(b"dropped")
        self.assertEqual(proto.connection.droppedMessages, 1)
        self.assertIs(proto.connection.backedUp, True)

    def test_dropCountSeenByTheApplication(self) -> None:
        """
        The application's view of a connection counts its dropped messages.
        """
        # Regression (fixed in d984c56): a WebSocketConnection (a
        # ConnectionDecorator) forwarded neither droppedMessages nor
        # backedUp, so an application served through WebSocket(...) could
        # not read conn.droppedMessages.
        view = Harness().open().conn
        self.assertEqual(view.droppedMessages, 0)
        self.assertIs(view.backedUp, False)


class EchoPauseTests(SlowConsumerTestCase):
    async def test_readingPausesWhileBackedUp(self) -> None:
        """
        A client that sends echo requests and reads nothing: the server stops
        reading from it while its answers are backed up, so what the server
        holds for it stays near the high-water mark however much it sends;
        when it reads again everything is answered.
        """
        self.serve(SlowConsumer.QUEUE)
        client = await self.connect(receiveBuffer=4096)
        client.stopReading()
        conn = self.serverConnection(0)
        serverTransport = next(iter(self.server.protocols)).transport
        # A fixed, small kernel send buffer on the server's side: otherwise
        # loopback TCP's autotuning keeps growing it, the server's own
        # buffer drains into it now and then, and reading resumes for a
        # moment -- correctly, but the check below could not tell.
        serverTransport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        frame = binaryFrame(b"e" * MESSAGE)
        sent = 0
        limit = 64 * MiB
        # Write until the client's own kernel buffers are full and its
        # Twisted buffer holds 4 MiB: the server has stopped reading.
        while sent < limit:
            client.transport.write(frame * 16)
            sent += 16
            await deferLater(reactor, 0, lambda: None)
            if len(client.transport.dataBuffer) + client.transport._tempDataLen > 4 * MiB:
                break
        await deferLater(reactor, 0.2, lambda: None)
        self.assertTrue(conn.backedUp)
        self.assertNotIn(serverTransport, reactor.getReaders())
        held = conn.bufferedAmount
        await deferLater(reactor, 0.2, lambda: None)
        self.assertEqual(conn.bufferedAmount, held, "the server kept reading")
        record("echo pause", sentMessages=sent, serverPeakBuffered=self.peak[conn.id])
        self.assertLessEqual(self.peak[conn.id], HIGH_WATER + 4 * 64 * KiB)
        self.assertLess(sent * MESSAGE, limit)
        # Reading again: every request is answered, reading resumes.
        client.startReading()
        self.assertEqual(await client.waitForMessages(sent), sent)
        self.assertFalse(conn.backedUp)
        self.assertIn(serverTransport, reactor.getReaders())
        self.assertFalse(conn.closed)


class Pump:
    """
    A non-blocking socket that sends queued bytes and reads what comes,
    counting the server's messages (a fast RFC 6455 client without threads).
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.outgoing = bytearray()
        self.decoder = hybi.FrameDecoder(
            expectMasked=False, maxFrameSize=64 * MiB, maxMessageSize=64 * MiB
        )
        self.received = 0

    def step(self, timeout: float) -> None:
        wants = [self.sock] if self.outgoing else []
        readable, writable, _ = select.select([self.sock], wants, [], timeout)
        if readable:
            data = self.sock.recv(1 << 20)
            if not data:
                raise AssertionError("the server closed a fast client")
            for event in self.decoder.feed(data):
                if type(event) in (str, bytes):
                    self.received += 1
        if writable:
            try:
                sent = self.sock.send(self.outgoing[: 1 << 20])
            except BlockingIOError:
                sent = 0
            del self.outgoing[:sent]


#: Bytes broadcast to each client in the twistd tests: 64 MiB.
TWISTD_VOLUME = 64 * MiB
#: Bytes the fast client broadcasts alone first, for its rate.
BASELINE_VOLUME = 16 * MiB
#: The RSS growth allowed while they are sent: 3 slow clients may hold
#: --max-buffered (1 MiB) each under QUEUE; the rest is the broadcast's
#: working set (a message and its frame, per batch) and allocator slack.
TWISTD_RSS_BOUND_KIB = 24 * 1024


class TwistdSlowConsumerTests(SynchronousTestCase):
    """
    The real server, 3 clients that never read and one that sends and reads
    fast: the server's RSS stays bounded, and the slow ones are handled by
    the policy.
    """

    def broadcast(self, proc, fast: Pump, count: int) -> tuple[float, int]:
        """
        Have C{fast} broadcast C{count} messages (and receive them back);
        return the seconds it took and the server's peak RSS meanwhile.
        """
        frame = textFrame("B" + "y" * (MESSAGE - 1))
        fast.received = 0
        peak = rssKiB(proc.pid)
        started = time.monotonic()
        deadline = started + TIMEOUT
        queued = 0
        while fast.received < count and time.monotonic() < deadline:
            # At most WINDOW messages in flight: a fast client, not a flood.
            while queued < count and queued - fast.received < WINDOW:
                fast.outgoing += frame
                queued += 1
            fast.step(0.05)
            peak = max(peak, rssKiB(proc.pid))
        self.assertEqual(fast.received, count, "the fast client did not get every message")
        return time.monotonic() - started, peak

    def fanOut(self, policy: str) -> dict:
        proc = startProbe(
            "--slow-consumer", policy,
            "--high-water-mark", "256K",
            "--max-buffered", "1M",
            "--close-timeout", "0.5",
        )  # fmt: skip
        self.addCleanup(proc.stop)
        sock = rawConnect(proc.port)
        sock.sendall(hybiRequest(13))
        status, data = readHead(sock)
        self.assertEqual(status, 101)
        fast = Pump(sock)
        fast.decoder.feed(data.split(b"\r\n\r\n", 1)[1])
        # The fast client's rate alone, then with the slow ones connected.
        alone = self.broadcast(proc, fast, BASELINE_VOLUME // MESSAGE)[0]
        slow = []
        for _ in range(3):
            sock = rawConnect(proc.port, receiveBuffer=4096)
            sock.sendall(hybiRequest(13))
            self.assertEqual(readHead(sock)[0], 101)
            slow.append(sock)
        self.addCleanup(lambda: [sock.close() for sock in slow])
        time.sleep(0.1)
        before = rssKiB(proc.pid)
        count = TWISTD_VOLUME // MESSAGE
        seconds, peak = self.broadcast(proc, fast, count)
        time.sleep(0.7)
        stats = probeStats(proc.port)
        figures = {
            "policy": policy,
            "broadcastMiB": TWISTD_VOLUME // MiB,
            "seconds": round(seconds, 2),
            "fastMiBps": round(TWISTD_VOLUME / MiB / seconds, 1),
            "fastAloneMiBps": round(BASELINE_VOLUME / MiB / alone, 1),
            "rssBeforeKiB": before,
            "rssPeakKiB": peak,
            "rssGrowthKiB": peak - before,
            "stats": stats,
        }
        record(f"twistd fan-out {policy}", **figures)
        self.assertLess(peak - before, TWISTD_RSS_BOUND_KIB, figures)
        self.assertLess(
            seconds / TWISTD_VOLUME,
            3 * alone / BASELINE_VOLUME,
            "the fast client slowed down by more than 3 times",
        )
        fast.sock.close()
        return stats

    def test_queue(self) -> None:
        stats = self.fanOut("queue")
        self.assertEqual(stats["closeCodes"].get("1008"), 3, stats)

    def test_drop(self) -> None:
        stats = self.fanOut("drop")
        self.assertNotIn("1008", stats["closeCodes"])
        self.assertEqual(stats["open"], 3 + 1 + 1, stats)
        self.assertGreater(stats["dropped"], 3 * (TWISTD_VOLUME // MESSAGE) // 2, stats)

    def test_close(self) -> None:
        stats = self.fanOut("close")
        self.assertEqual(stats["closeCodes"].get("1008"), 3, stats)
