"""
The contracts of Twisted's TCP transport, on real loopback sockets, for
Twisted's own transport (the reference) and L{WriteThroughServer} on the
epoll, poll and select reactors (see L{tests.transport.harness}).  The cases
follow Twisted's own transport tests (C{twisted/internet/test/test_tcp.py},
C{connectionmixins.py}).  At the end, what only the write-through transport
does: sending inside C{write}, adaptive reads.
"""

from __future__ import annotations

import gc
import shutil
import socket
import ssl
import tempfile
import weakref
from pathlib import Path
from typing import Any

from twisted.internet import ssl as twistedSSL
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.error import ConnectionAborted, ConnectionDone, ConnectionLost
from twisted.internet.interfaces import (
    IConsumer,
    IHalfCloseableDescriptor,
    IHalfCloseableProtocol,
    IPushProducer,
    ISystemHandle,
    ITCPTransport,
    ITLSTransport,
)
from twisted.logger import ILogObserver, globalLogPublisher
from zope.interface import implementer, provider
from zope.interface.verify import verifyObject

from ratchet_tx.flow import bufferedBytes
from ratchet_tx.transport import WriteThroughServer
from ratchet_tx.transport.reads import MAX_READ_SIZE, MIN_READ_SIZE
from tests.integration.test_tls import makeCertificate
from tests.transport.harness import (
    MATRIX,
    Peer,
    Recorder,
    RecordingFactory,
    TransportHarness,
    everyTransport,
    pattern,
)

KiB = 1024
MiB = 1024 * KiB


def shrinkBuffers(transport) -> None:
    """Make the server's send buffer small, so that the kernel refuses soon."""
    transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)


class RecordingProducer:
    """A producer that records C{pause}, C{resume} and C{stop}."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def pauseProducing(self) -> None:
        self.events.append("pause")

    def resumeProducing(self) -> None:
        self.events.append("resume")

    def stopProducing(self) -> None:
        self.events.append("stop")


@implementer(IHalfCloseableProtocol)
class HalfCloser(Recorder):
    """A L{Recorder} that accepts half-closed connections."""

    def readConnectionLost(self) -> None:
        self.events.append("readConnectionLost")

    def writeConnectionLost(self) -> None:
        self.events.append("writeConnectionLost")


class Backpressure(TransportHarness):
    """Helpers for a peer that does not read, so the server's buffers fill."""

    def stalled(self, protocol: type[Recorder] | None = None):
        server, peer = self.connect(protocol, receiveBuffer=4096)
        peer.reading = False
        shrinkBuffers(server.transport)
        return server, peer

    def producer(self, transport, bufferSize: int = 64 * KiB) -> RecordingProducer:
        """A streaming producer registered on C{transport}, paused past C{bufferSize}."""
        producer = RecordingProducer()
        transport.bufferSize = bufferSize
        transport.registerProducer(producer, True)
        return producer

    def writing(self, transport) -> bool:
        return transport in self.reactor.getWriters()

    def lostOnce(self, server, reason: type[Exception]) -> None:
        self.runUntil(lambda: server.lost)
        self.settle(0.05)
        self.assertEqual(len(server.lost), 1, server.lost)
        self.assertIs(server.lost[0].type, reason, server.lost[0])


class Writing(Backpressure):
    def test_smallWrite(self) -> None:
        server, peer = self.connect()
        server.transport.write(b"hello")
        self.assertArrives(peer, b"hello")
        self.assertFalse(self.writing(server.transport))

    def test_largeWrite(self) -> None:
        """8 MiB in one write arrive whole, in order; then nothing waits."""
        server, peer = self.connect()
        data = pattern(8 * MiB)
        server.transport.write(data)
        self.assertArrives(peer, data)
        self.runUntil(lambda: not self.writing(server.transport))
        self.assertEqual(bufferedBytes(server.transport), 0)

    def test_emptyWrite(self) -> None:
        server, peer = self.connect()
        server.transport.write(b"")
        server.transport.writeSequence([])
        server.transport.writeSequence([b"", b""])
        server.transport.write(b"end")
        self.assertArrives(peer, b"end")

    def test_writeSequence(self) -> None:
        server, peer = self.connect()
        pieces = [b"a", b"", b"bc", pattern(300 * KiB), b"d"]
        server.transport.writeSequence(pieces)
        self.assertArrives(peer, b"".join(pieces))

    def test_writeSequenceOfManyPieces(self) -> None:
        """More pieces than one sendmsg may carry arrive in order."""
        server, peer = self.connect()
        pieces = [b"%06d," % i for i in range(5000)]
        server.transport.writeSequence(pieces)
        self.assertArrives(peer, b"".join(pieces))

    def test_textIsRefused(self) -> None:
        """str is refused with TypeError, and nothing of the call is sent."""
        server, peer = self.connect()
        self.assertRaises(TypeError, server.transport.write, "text")
        self.assertRaises(TypeError, server.transport.writeSequence, [b"bytes", "text"])
        server.transport.write(b"!")
        self.runUntil(lambda: peer.received)
        self.settle(0.02)
        self.assertEqual(bytes(peer.received), b"!")

    def test_partialWrites(self) -> None:
        """
        A peer that does not read: the kernel takes part, the rest waits
        for writability (EAGAIN); once the peer reads, all of it arrives
        and the transport stops waiting for writability.
        """
        server, peer = self.stalled()
        data = pattern(1 * MiB)
        server.transport.write(data)
        self.settle(0.05)
        waiting = bufferedBytes(server.transport)
        self.assertGreater(waiting, 0)
        self.assertLess(waiting, len(data))
        self.assertTrue(self.writing(server.transport))
        peer.reading = True
        self.assertArrives(peer, data)
        self.runUntil(lambda: not self.writing(server.transport))
        self.assertEqual(bufferedBytes(server.transport), 0)

    def test_orderAcrossQueuedAndDirectWrites(self) -> None:
        """
        Writes sent at once, writes queued behind refused bytes and pieces
        of sequences arrive in the order they were written.
        """
        server, peer = self.stalled()
        written = []

        def write(data: bytes) -> None:
            written.append(data)
            server.transport.write(data)

        for i, size in enumerate([10, 70 * KiB, 5, 200 * KiB, 1, 3000]):
            write(pattern(size, seed=i))
        pieces = [pattern(100, seed=20), pattern(50 * KiB, seed=21), b"", pattern(3, seed=22)]
        written.extend(pieces)
        server.transport.writeSequence(pieces)
        self.settle(0.05)
        write(b"tail")
        peer.reading = True
        self.assertArrives(peer, b"".join(written))


class Producers(Backpressure):
    def test_streamingProducerPausedPastBufferSize(self) -> None:
        """
        A push producer is paused (within the write) once more than
        C{bufferSize} bytes wait, and resumed once all of them are sent.
        """
        server, peer = self.stalled()
        producer = self.producer(server.transport)
        data = pattern(1 * MiB)
        server.transport.write(data)
        self.assertEqual(producer.events, ["pause"])
        self.settle(0.05)
        self.assertEqual(producer.events, ["pause"])
        peer.reading = True
        self.runUntil(lambda: len(peer.received) >= len(data))
        self.runUntil(lambda: "resume" in producer.events)
        self.assertEqual(producer.events, ["pause", "resume"])
        self.assertEqual(bytes(peer.received), data)
        server.transport.unregisterProducer()

    def test_streamingProducerNotPausedBelowBufferSize(self) -> None:
        server, peer = self.stalled()
        producer = self.producer(server.transport)
        server.transport.write(pattern(1000))
        self.settle(0.05)
        self.assertEqual(producer.events, [])
        server.transport.unregisterProducer()

    def test_pullProducer(self) -> None:
        """
        A pull producer is asked for more (C{resumeProducing}) each time
        what it wrote is sent, until it unregisters.
        """
        server, peer = self.connect()
        chunks = [pattern(size, seed=i) for i, size in enumerate([5, 100 * KiB, 1, 3 * KiB])]
        asked: list[int] = []

        class Pull:
            def resumeProducing(self) -> None:
                asked.append(len(asked))
                if len(asked) <= len(chunks):
                    server.transport.write(chunks[len(asked) - 1])
                else:
                    server.transport.unregisterProducer()
                    server.transport.loseConnection()

            def stopProducing(self) -> None:
                asked.append(-1)

        server.transport.registerProducer(Pull(), False)
        self.runUntil(lambda: peer.eof)
        self.assertEqual(bytes(peer.received), b"".join(chunks))
        self.assertEqual(asked, list(range(len(chunks) + 1)))
        self.lostOnce(server, ConnectionDone)

    def test_registerTwice(self) -> None:
        server, peer = self.connect()
        server.transport.registerProducer(RecordingProducer(), True)
        again = RecordingProducer()
        self.assertRaises(RuntimeError, server.transport.registerProducer, again, True)
        server.transport.unregisterProducer()

    def test_producerStoppedWhenConnectionLost(self) -> None:
        server, peer = self.connect()
        producer = RecordingProducer()
        server.transport.registerProducer(producer, True)
        peer.close()
        self.runUntil(lambda: server.lost)
        self.assertEqual(producer.events, ["stop"])

    def test_registerAfterConnectionLost(self) -> None:
        """A producer registered on a lost connection is stopped at once."""
        server, peer = self.connect()
        peer.close()
        self.runUntil(lambda: server.lost)
        producer = RecordingProducer()
        server.transport.registerProducer(producer, True)
        self.assertEqual(producer.events, ["stop"])

    def test_loseConnectionWaitsForPausedProducer(self) -> None:
        """
        loseConnection with a paused producer registered: once the queue
        drains the producer is resumed and the connection stays open; it
        closes once the producer unregisters.
        """
        server, peer = self.stalled()
        producer = self.producer(server.transport, 16 * KiB)
        data = pattern(512 * KiB)
        server.transport.write(data)
        server.transport.loseConnection()
        peer.reading = True
        self.runUntil(lambda: "resume" in producer.events)
        self.settle(0.05)
        self.assertFalse(peer.eof)
        self.assertEqual(server.lost, [])
        server.transport.unregisterProducer()
        self.runUntil(lambda: peer.eof)
        self.assertEqual(bytes(peer.received), data)
        self.lostOnce(server, ConnectionDone)


class Closing(Backpressure):
    def test_loseConnection(self) -> None:
        server, peer = self.connect()
        server.transport.loseConnection()
        self.assertEqual(server.lost, [], "connectionLost called within loseConnection")
        self.runUntil(lambda: peer.eof)
        self.lostOnce(server, ConnectionDone)

    def test_loseConnectionSendsEverythingThenFIN(self) -> None:
        server, peer = self.stalled()
        data = pattern(4 * MiB)
        server.transport.write(data)
        server.transport.loseConnection()
        self.settle(0.05)
        self.assertEqual(server.lost, [])
        peer.reading = True
        self.runUntil(lambda: peer.eof)
        self.assertEqual(len(peer.received), len(data))
        self.assertEqual(bytes(peer.received), data)
        self.lostOnce(server, ConnectionDone)

    def test_writeAfterLoseConnectionInTheSameTurn(self) -> None:
        """
        As with Twisted's transport, what is written after loseConnection
        but before the connection is lost is still sent, before the FIN.
        """
        server, peer = self.connect()
        server.transport.write(b"before ")
        server.transport.loseConnection()
        server.transport.write(b"after")
        self.runUntil(lambda: peer.eof)
        self.assertEqual(bytes(peer.received), b"before after")

    def test_loseConnectionWithAPullProducer(self) -> None:
        """
        loseConnection with a pull producer registered and nothing waiting:
        the producer is asked for more and the connection stays open; it
        closes once the producer unregisters.
        """
        server, peer = self.connect()
        producer = RecordingProducer()
        server.transport.registerProducer(producer, False)
        self.runUntil(lambda: producer.events)
        del producer.events[:]
        server.transport.loseConnection()
        self.runUntil(lambda: "resume" in producer.events)
        self.settle(0.05)
        self.assertFalse(peer.eof)
        self.assertEqual(server.lost, [])
        server.transport.write(b"last")
        server.transport.unregisterProducer()
        self.runUntil(lambda: peer.eof)
        self.assertEqual(bytes(peer.received), b"last")
        self.lostOnce(server, ConnectionDone)

    def test_loseConnectionOfManyInOneTurn(self) -> None:
        """
        Connections written to and closed in the same turn each get all of
        their own bytes, then FIN.
        """
        pairs = [self.connect() for _ in range(8)]
        for index, (server, _) in enumerate(pairs):
            server.transport.write(b"first %d " % index)
            if index % 2:
                server.transport.writeSequence([b"second ", b"%d" % index])
            server.transport.loseConnection()
        for index, (server, peer) in enumerate(pairs):
            self.runUntil(lambda: peer.eof)  # noqa: B023
            expected = b"first %d " % index + (b"second %d" % index if index % 2 else b"")
            self.assertEqual(bytes(peer.received), expected)
            self.lostOnce(server, ConnectionDone)

    def test_writeAfterConnectionLostIsIgnored(self) -> None:
        server, peer = self.connect()
        peer.close()
        self.runUntil(lambda: server.lost)
        server.transport.write(b"lost")
        server.transport.writeSequence([b"lost", b"too"])
        self.assertEqual(bufferedBytes(server.transport), 0)
        self.assertFalse(self.writing(server.transport))
        self.lostOnce(server, ConnectionDone)

    def test_loseConnectionTwice(self) -> None:
        server, peer = self.connect()
        server.transport.loseConnection()
        server.transport.loseConnection()
        self.runUntil(lambda: peer.eof)
        self.lostOnce(server, ConnectionDone)

    def test_peerCloses(self) -> None:
        server, peer = self.connect()
        peer.send(b"bye")
        peer.close()
        self.lostOnce(server, ConnectionDone)
        self.assertEqual(bytes(server.received), b"bye")

    def test_protocolCollectedAfterConnectionLost(self) -> None:
        server, peer = self.connect()
        ref = weakref.ref(server)
        transport = weakref.ref(server.transport)
        server.transport.loseConnection()
        lost = server.lost
        self.runUntil(lambda: lost)
        for port in self.ports:
            port.factory.built.clear()
        del server
        gc.collect()
        self.assertIsNone(ref())
        self.assertIsNone(transport())


class Aborting(Backpressure):
    def test_abortResets(self) -> None:
        """abortConnection resets the connection; connectionLost comes later."""
        server, peer = self.connect()
        server.transport.abortConnection()
        self.assertEqual(server.lost, [])
        self.runUntil(lambda: peer.reset or peer.eof)
        self.assertTrue(peer.reset)
        self.lostOnce(server, ConnectionAborted)

    def test_abortDropsWhatWaits(self) -> None:
        server, peer = self.stalled()
        data = pattern(4 * MiB)
        server.transport.write(data)
        self.settle(0.02)
        server.transport.abortConnection()
        peer.reading = True
        self.runUntil(lambda: peer.reset or peer.eof)
        self.assertTrue(peer.reset)
        self.assertLess(len(peer.received), len(data))
        self.lostOnce(server, ConnectionAborted)

    def test_nothingSentAfterAbort(self) -> None:
        server, peer = self.connect()
        server.transport.abortConnection()
        server.transport.write(b"after abort")
        server.transport.writeSequence([b"after", b"abort"])
        self.runUntil(lambda: peer.reset or peer.eof)
        self.assertTrue(peer.reset)
        self.assertEqual(bytes(peer.received), b"")
        self.lostOnce(server, ConnectionAborted)

    def test_abortTwice(self) -> None:
        server, peer = self.connect()
        server.transport.abortConnection()
        server.transport.abortConnection()
        self.lostOnce(server, ConnectionAborted)

    def test_abortThenLoseConnection(self) -> None:
        server, peer = self.connect()
        server.transport.abortConnection()
        server.transport.loseConnection()
        self.lostOnce(server, ConnectionAborted)

    def test_loseConnectionThenAbort(self) -> None:
        server, peer = self.stalled()
        server.transport.write(pattern(1 * MiB))
        server.transport.loseConnection()
        server.transport.abortConnection()
        self.lostOnce(server, ConnectionAborted)

    def test_abortInDataReceived(self) -> None:
        class Aborter(Recorder):
            def dataReceived(self, data: bytes) -> None:
                super().dataReceived(data)
                self.transport.abortConnection()

        server, peer = self.connect(Aborter)
        peer.send(b"first")
        self.runUntil(lambda: server.received)
        peer.send(b"second")
        self.lostOnce(server, ConnectionAborted)


class HalfClosing(Backpressure):
    def test_peerHalfCloses(self) -> None:
        """
        The peer shuts its write side: a half-closeable protocol is told,
        and may still answer before it closes.
        """
        server, peer = self.connect(HalfCloser)
        peer.send(b"question")
        peer.shutdownWrite()
        self.runUntil(lambda: "readConnectionLost" in server.events)
        self.assertEqual(bytes(server.received), b"question")
        server.transport.write(b"answer")
        server.transport.loseConnection()
        self.runUntil(lambda: peer.eof)
        self.assertEqual(bytes(peer.received), b"answer")
        self.lostOnce(server, ConnectionDone)

    def test_peerHalfClosesAnOrdinaryProtocol(self) -> None:
        server, peer = self.connect()
        peer.shutdownWrite()
        self.lostOnce(server, ConnectionDone)

    def test_loseWriteConnection(self) -> None:
        """
        loseWriteConnection sends what waits, then FIN; the read side stays
        open; writes after it are ignored.
        """
        server, peer = self.stalled(HalfCloser)
        data = pattern(2 * MiB)
        server.transport.write(data)
        server.transport.loseWriteConnection()
        self.settle(0.05)
        self.assertNotIn("writeConnectionLost", server.events)
        peer.reading = True
        self.runUntil(lambda: peer.eof)
        self.assertEqual(bytes(peer.received), data)
        self.runUntil(lambda: "writeConnectionLost" in server.events)
        server.transport.write(b"ignored")
        server.transport.writeSequence([b"ignored"])
        self.assertEqual(bufferedBytes(server.transport), 0)
        peer.send(b"still heard")
        self.runUntil(lambda: len(server.received) >= 11)
        self.assertEqual(bytes(server.received), b"still heard")
        peer.close()
        self.runUntil(lambda: "readConnectionLost" in server.events)
        self.assertEqual(server.lost, [])
        server.transport.loseConnection()
        self.lostOnce(server, ConnectionDone)
        self.assertEqual(server.events.count("writeConnectionLost"), 1)

    def test_doubleHalfClose(self) -> None:
        """
        The peer half-closes, the protocol half-closes in answer and then
        closes (Twisted's ticket #3037).
        """

        class Answering(HalfCloser):
            def readConnectionLost(self) -> None:
                super().readConnectionLost()
                self.transport.loseWriteConnection()

            def writeConnectionLost(self) -> None:
                super().writeConnectionLost()
                self.transport.loseConnection()

        server, peer = self.connect(Answering)
        peer.shutdownWrite()
        self.runUntil(lambda: peer.eof)
        self.lostOnce(server, ConnectionDone)


class Resets(Backpressure):
    def test_peerResets(self) -> None:
        server, peer = self.connect()
        peer.abort()
        self.lostOnce(server, ConnectionLost)

    def test_writeToAPeerThatReset(self) -> None:
        """
        A write to a connection the peer has reset (ECONNRESET) loses the
        connection with ConnectionLost, from the reactor, not from write.
        """
        server, peer = self.connect()
        server.transport.pauseProducing()
        peer.abort()
        self.settle(0.05)
        server.transport.write(b"x" * 100)
        self.assertEqual(server.lost, [])
        self.lostOnce(server, ConnectionLost)

    def test_answerToAPeerThatReset(self) -> None:
        """
        The peer sent bytes and reset: the server reads them, answers, and the
        connection is lost with ConnectionLost (not ConnectionDone, although
        the socket reads as closed once the answer's send took the error).
        """

        class Echo(Recorder):
            def dataReceived(self, data: bytes) -> None:
                super().dataReceived(data)
                self.transport.write(data)

        server, peer = self.connect(Echo)
        server.transport.pauseProducing()
        peer.send(b"last words")
        peer.abort()
        self.settle(0.05)
        server.transport.resumeProducing()
        self.lostOnce(server, ConnectionLost)
        self.assertEqual(bytes(server.received), b"last words")

    def test_writeToAPeerThatClosed(self) -> None:
        """
        A peer that closed answers a write with a reset; the next write
        fails (EPIPE) and the connection is lost with ConnectionLost.
        """
        server, peer = self.connect()
        server.transport.pauseProducing()
        peer.close()
        self.settle(0.05)
        server.transport.write(b"first")
        self.settle(0.05)
        server.transport.write(b"second")
        self.assertEqual(server.lost, [])
        self.lostOnce(server, ConnectionLost)

    def test_resetWhileQueued(self) -> None:
        server, peer = self.stalled()
        server.transport.write(pattern(2 * MiB))
        peer.abort()
        self.lostOnce(server, ConnectionLost)

    def test_dataReceivedRaises(self) -> None:
        """
        An exception from the protocol loses the connection with it as the
        reason, logged once with the transport's log prefix as its system.
        """

        class Raising(Recorder):
            def dataReceived(self, data: bytes) -> None:
                raise ZeroDivisionError(data)

        systems: list[str] = []

        @provider(ILogObserver)
        def observe(event: dict) -> None:
            if event.get("isError") or event.get("log_failure") is not None:
                systems.append(event.get("log_system", ""))

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        server, peer = self.connect(Raising)
        peer.send(b"boom")
        self.lostOnce(server, ZeroDivisionError)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(systems, [server.transport.logPrefix()])


class Identity(TransportHarness):
    def test_interfaces(self) -> None:
        server, peer = self.connect()
        transport = server.transport
        for interface in (
            ITCPTransport,
            IConsumer,
            IPushProducer,
            IHalfCloseableDescriptor,
            ISystemHandle,
            ITLSTransport,
        ):
            self.assertTrue(verifyObject(interface, transport), interface)

    def test_addressesIPv4(self) -> None:
        server, peer = self.connect()
        port = self.ports[0].getHost().port
        self.assertEqual(server.transport.getHost(), IPv4Address("TCP", "127.0.0.1", port))
        self.assertEqual(
            server.transport.getPeer(),
            IPv4Address("TCP", "127.0.0.1", peer.sock.getsockname()[1]),
        )

    def test_addressesIPv6(self) -> None:
        server, peer = self.connect(interface="::1")
        port = self.ports[0].getHost().port
        self.assertEqual(self.ports[0].getHost(), IPv6Address("TCP", "::1", port))
        self.assertEqual(server.transport.getHost(), IPv6Address("TCP", "::1", port))
        self.assertEqual(
            server.transport.getPeer(),
            IPv6Address("TCP", "::1", peer.sock.getsockname()[1]),
        )
        server.transport.write(b"over IPv6")
        self.assertArrives(peer, b"over IPv6")

    def test_tcpNoDelay(self) -> None:
        server, peer = self.connect()
        server.transport.setTcpNoDelay(True)
        self.assertTrue(server.transport.getTcpNoDelay())
        sock = server.transport.getHandle()
        self.assertTrue(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        server.transport.setTcpNoDelay(False)
        self.assertFalse(server.transport.getTcpNoDelay())

    def test_tcpKeepAlive(self) -> None:
        server, peer = self.connect()
        server.transport.setTcpKeepAlive(True)
        self.assertTrue(server.transport.getTcpKeepAlive())

    def test_logPrefixAndRepr(self) -> None:
        server, peer = self.connect()
        port = self.ports[0].getHost().port
        self.assertEqual(server.transport.logPrefix(), "Recorder,0,127.0.0.1")
        self.assertEqual(repr(server.transport), f"<Recorder #0 on {port}>")


class Reading(TransportHarness):
    def test_dataIsBytes(self) -> None:
        server, peer = self.connect()
        data = pattern(3 * MiB)
        peer.send(data)
        self.runUntil(lambda: len(server.received) >= len(data))
        self.assertEqual(bytes(server.received), data)
        self.assertEqual(set(server.chunkTypes), {bytes})

    def test_pauseAndResumeReading(self) -> None:
        server, peer = self.connect()
        server.transport.pauseProducing()
        peer.send(b"held")
        self.settle(0.05)
        self.assertEqual(bytes(server.received), b"")
        server.transport.resumeProducing()
        self.runUntil(lambda: server.received)
        self.assertEqual(bytes(server.received), b"held")

    def test_stopProducingCloses(self) -> None:
        server, peer = self.connect()
        server.transport.stopProducing()
        self.runUntil(lambda: peer.eof)
        self.runUntil(lambda: server.lost)

    def test_connectionLostAfterPausedTransport(self) -> None:
        """The peer writes and closes; the paused server hears of it on resuming."""

        class Pauser(Recorder):
            def dataReceived(self, data: bytes) -> None:
                super().dataReceived(data)
                self.transport.pauseProducing()
                self.transport.reactor.callLater(0.01, self.resume)

            def resume(self) -> None:
                self.events.append("resumed")
                self.transport.resumeProducing()

        server, peer = self.connect(Pauser)
        peer.send(b"some bytes")
        peer.close()
        self.runUntil(lambda: server.lost)
        self.assertEqual(server.events, ["made", "resumed", "lost"])


class StartTLS(TransportHarness):
    """C{startTLS} on the server's transport, the client then speaking TLS."""

    def setUp(self) -> None:
        # Twisted's TLS layer gathers small writes until a turn of the global
        # reactor (its factory's clock), which its timed calls need; installing
        # it opens descriptors, before the harness counts them.
        from twisted.internet import reactor

        self.globalReactor: Any = reactor
        super().setUp()

    def iterate(self, delay: float = 0.002) -> None:
        super().iterate(delay)
        self.globalReactor.runUntilCurrent()

    def test_startTLS(self) -> None:
        directory = Path(tempfile.mkdtemp(prefix="transport-tls-"))
        self.addCleanup(shutil.rmtree, directory, True)
        keyPath, certPath = makeCertificate(directory)
        pem = keyPath.read_bytes() + certPath.read_bytes()
        options = twistedSSL.PrivateCertificate.loadPEM(pem).options()

        class Upgrading(Recorder):
            def dataReceived(self, data: bytes) -> None:
                super().dataReceived(data)
                if bytes(self.received) == b"STARTTLS\n":
                    self.transport.startTLS(options)
                elif self.received.startswith(b"STARTTLS\n"):
                    self.transport.write(data.upper())

        server, peer = self.connect(Upgrading)
        peer.reading = False
        peer.send(b"STARTTLS\n")
        self.runUntil(lambda: server.received)
        context = ssl.create_default_context(cafile=str(certPath))
        tls = context.wrap_socket(
            peer.sock, server_hostname="127.0.0.1", do_handshake_on_connect=False
        )

        def handshaken() -> bool:
            try:
                tls.do_handshake()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return False
            return True

        self.runUntil(handshaken)
        tls.send(b"secret")
        answer = bytearray()

        def answered() -> bool:
            try:
                answer.extend(tls.recv(100))
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            return len(answer) >= 6

        self.runUntil(answered)
        self.assertEqual(bytes(answer), b"SECRET")
        peer.sock = tls


class WriteThrough(Backpressure):
    """What only the write-through transport does."""

    def test_isWriteThrough(self) -> None:
        server, peer = self.connect()
        self.assertIsInstance(server.transport, WriteThroughServer)

    def test_keepsNoDescriptionNorWriteBuffer(self) -> None:
        """
        An idle connection keeps neither its description (made when asked,
        the same as Twisted's) nor a write-buffer list of its own.
        """
        server, peer = self.connect()
        port = self.ports[0].getHost().port
        kept = vars(server.transport)
        self.assertNotIn("repstr", kept)
        self.assertNotIn("_tempDataBuffer", kept)
        self.assertEqual(server.transport.repstr, f"<Recorder #0 on {port}>")
        server.transport.write(b"x" * 100)
        self.runUntil(lambda: len(peer.received) == 100)
        self.assertEqual(server.transport._tempDataBuffer, ())

    def test_keepsNoLogStringFilenoNorPeerTuple(self) -> None:
        """
        An idle connection keeps no log string, no bound C{fileno} and no
        tuple of the peer's address: each is made when asked, the same as
        Twisted's, and after the connection is lost as Twisted's are then.
        """
        server, peer = self.connect()
        transport = server.transport
        kept = vars(transport)
        for name in ("logstr", "fileno", "client", "_tempDataLen"):
            self.assertNotIn(name, kept)
        peerPort = peer.sock.getsockname()[1]
        self.assertEqual(transport.logstr, "Recorder,0,127.0.0.1")
        self.assertEqual(transport.fileno(), transport.socket.fileno())
        self.assertEqual(transport.client, ("127.0.0.1", peerPort))
        peer.close()
        self.runUntil(lambda: server.lost)
        self.assertEqual(transport.fileno(), -1)
        self.assertEqual(transport.getPeer(), IPv4Address("TCP", "127.0.0.1", peerPort))
        self.assertEqual(transport.logPrefix(), "Recorder,0,127.0.0.1")

    def test_peerTupleIPv6(self) -> None:
        """Over IPv6 C{client} is Twisted's 4-tuple, kept without a tuple of its own."""
        server, peer = self.connect(interface="::1")
        self.assertEqual(server.transport.client, peer.sock.getsockname())
        self.assertNotIn("client", vars(server.transport))

    def receiveNow(self, peer, size: int) -> bytes:
        """Read C{size} bytes from the peer without running the reactor."""
        peer.sock.settimeout(5)
        received = b""
        while len(received) < size:
            received += peer.sock.recv(size - len(received))
        peer.sock.setblocking(False)
        return received

    def test_smallWritesAreSentAtTheEndOfTheTurn(self) -> None:
        """
        Small writes wait for the end of the reactor turn (its timed calls),
        not for writability, and then go in one send.
        """
        server, peer = self.connect()
        server.transport.write(b"now")
        server.transport.writeSequence([b" and ", b"then"])
        self.assertEqual(server.transport.bufferedAmount, 12)
        self.assertRaises(BlockingIOError, peer.sock.recv, 100)
        self.reactor.runUntilCurrent()
        self.assertEqual(server.transport.bufferedAmount, 0)
        self.assertEqual(self.receiveNow(peer, 12), b"now and then")
        self.assertFalse(self.writing(server.transport))
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_oneTimedCallPerTurn(self) -> None:
        """However many connections write in a turn, one timed call sends."""
        first, firstPeer = self.connect()
        second, secondPeer = self.connect()
        first.transport.write(b"1")
        second.transport.write(b"2")
        first.transport.write(b"1")
        self.assertEqual(len(self.reactor.getDelayedCalls()), 1)
        self.reactor.runUntilCurrent()
        self.assertEqual(self.receiveNow(firstPeer, 2), b"11")
        self.assertEqual(self.receiveNow(secondPeer, 1), b"2")

    def test_smallAfterALargeWriteInOneTurn(self) -> None:
        """
        A small write, a large one (sent at once, with the small one), and
        a small one again in one turn: each byte is sent once, in order.
        """
        server, peer = self.connect()
        server.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 * MiB)
        large = pattern(server.transport.sendAtOnceSize)
        server.transport.write(b"first")
        server.transport.write(large)
        server.transport.write(b"last")
        self.reactor.runUntilCurrent()
        self.assertEqual(server.transport.bufferedAmount, 0)
        expected = b"first" + large + b"last"
        self.assertEqual(self.receiveNow(peer, len(expected)), expected)
        self.settle(0.05)
        self.assertEqual(bytes(peer.received), b"")

    def fillKernelBuffers(self, transport) -> bytes:
        """Fill the socket's buffers behind the transport's back; what was sent."""
        sock = transport.getHandle()
        sent = bytearray()
        chunk = pattern(4096, seed=7)
        while True:
            try:
                sent += chunk[: sock.send(chunk)]
            except BlockingIOError:
                return bytes(sent)

    def test_refusedOrTakenInPartAtTheEndOfTheTurn(self) -> None:
        """
        A turn's write that the kernel refuses, then one it takes part of:
        what is left waits for writability, and everything arrives in order.
        """
        server, peer = self.stalled()
        filled = self.fillKernelBuffers(server.transport)
        server.transport.write(b"refused")
        self.reactor.runUntilCurrent()
        self.assertEqual(server.transport.bufferedAmount, 7)
        self.assertTrue(self.writing(server.transport))
        self.settle(0.02)
        peer.reading = True
        self.assertArrives(peer, filled + b"refused")
        peer.reading = False
        del peer.received[:]
        filled = self.fillKernelBuffers(server.transport)
        taken = len(peer.sock.recv(8192))  # room for a part of the next write
        self.settle(0.02)
        large = pattern(server.transport.sendAtOnceSize - 1, seed=3)
        server.transport.write(large)
        self.reactor.runUntilCurrent()
        self.assertGreater(server.transport.bufferedAmount, 0)
        peer.reading = True
        self.assertArrives(peer, (filled + large)[taken:])

    def test_manyWritersInOneTurn(self) -> None:
        """
        Hundreds of connections written to in one turn each get their bytes.
        """
        factory = RecordingFactory()
        port = self.listen(factory)
        peers: list[Peer] = []
        while len(peers) < 300:
            # A few at a time: the listening backlog is short.
            batch = [Peer(("127.0.0.1", port.getHost().port)) for _ in range(30)]
            peers += batch
            self.peers.extend(batch)
            self.runUntil(lambda: len(factory.built) == len(peers))  # noqa: B023
        self.runUntil(lambda: all(server.events for server in factory.built))
        for index, server in enumerate(factory.built):
            server.transport.write(b"to %d;" % index)
        self.reactor.runUntilCurrent()
        self.assertEqual([server.transport.bufferedAmount for server in factory.built], [0] * 300)
        self.runUntil(lambda: all(peer.received for peer in peers))
        received = sorted(bytes(peer.received) for peer in peers)
        self.assertEqual(received, sorted(b"to %d;" % index for index in range(300)))

    def test_loseConnectionAtTheEndOfTheTurn(self) -> None:
        """
        loseConnection after small writes: at the end of the turn they are
        sent and the connection is lost right after, without waiting for
        writability.
        """
        server, peer = self.connect()
        server.transport.write(b"all ")
        server.transport.writeSequence([b"of ", b"it"])
        server.transport.loseConnection()
        self.assertEqual(server.lost, [])
        self.assertFalse(self.writing(server.transport))
        self.reactor.runUntilCurrent()
        self.assertEqual(len(server.lost), 1)
        self.assertIs(server.lost[0].type, ConnectionDone)
        self.assertEqual(self.receiveNow(peer, 9), b"all of it")
        self.runUntil(lambda: peer.eof)
        self.assertEqual(bytes(peer.received), b"")

    def test_loseConnectionWithNothingWritten(self) -> None:
        """Nothing to send: the connection is lost at the end of the turn."""
        server, peer = self.connect()
        server.transport.loseConnection()
        self.assertFalse(self.writing(server.transport))
        self.assertEqual(len(self.reactor.getDelayedCalls()), 1)
        self.reactor.runUntilCurrent()
        self.assertEqual(len(server.lost), 1)
        self.assertIs(server.lost[0].type, ConnectionDone)
        self.runUntil(lambda: peer.eof)

    def test_loseConnectionWhenTheKernelRefuses(self) -> None:
        """
        What the kernel refuses at the end of the turn waits for
        writability; the connection is lost once it has all gone.
        """
        server, peer = self.stalled()
        data = pattern(256 * KiB)
        server.transport.sendAtOnceSize = len(data) + 1
        server.transport.write(data)
        server.transport.loseConnection()
        self.reactor.runUntilCurrent()
        self.assertEqual(server.lost, [])
        self.assertTrue(self.writing(server.transport))
        peer.reading = True
        self.runUntil(lambda: peer.eof)
        self.assertEqual(bytes(peer.received), data)
        self.lostOnce(server, ConnectionDone)

    def test_abortAfterLoseConnectionInTheSameTurn(self) -> None:
        """abortConnection after loseConnection, before the turn ends: aborted."""
        server, peer = self.connect()
        server.transport.write(b"dropped")
        server.transport.loseConnection()
        server.transport.abortConnection()
        self.runUntil(lambda: peer.reset or peer.eof)
        self.assertTrue(peer.reset)
        self.assertEqual(bytes(peer.received), b"")
        self.lostOnce(server, ConnectionAborted)

    def test_largeWriteIsSentAtOnce(self) -> None:
        """
        A write of sendAtOnceSize bytes or more is in the kernel when write
        returns, after the small ones written before it in the turn.
        """
        server, peer = self.connect()
        server.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 * MiB)
        large = pattern(server.transport.sendAtOnceSize)
        server.transport.write(b"small first")
        server.transport.write(large)
        self.assertEqual(server.transport.bufferedAmount, 0)
        self.assertEqual(self.receiveNow(peer, 11 + len(large)), b"small first" + large)
        server.transport.writeSequence([b"x", large])
        self.assertEqual(server.transport.bufferedAmount, 0)
        self.assertEqual(self.receiveNow(peer, 1 + len(large)), b"x" + large)

    def test_pausedByASmallWriteResumedOnceSent(self) -> None:
        """A write of the turn past bufferSize pauses; once sent, resumes."""
        server, peer = self.connect()
        producer = self.producer(server.transport, bufferSize=16)
        server.transport.write(b"more than sixteen bytes")
        self.assertEqual(producer.events, ["pause"])
        self.assertArrives(peer, b"more than sixteen bytes")
        self.runUntil(lambda: producer.events == ["pause", "resume"])
        server.transport.unregisterProducer()

    def test_everyWriteAtOnce(self) -> None:
        """With sendAtOnceSize 1, every write is sent within write."""
        server, peer = self.connect()
        server.transport.sendAtOnceSize = 1
        server.transport.write(b"at once")
        self.assertEqual(server.transport.bufferedAmount, 0)
        self.assertEqual(self.receiveNow(peer, 7), b"at once")

    def test_writeSequenceOfAGenerator(self) -> None:
        """
        Any iterable of bytes will do (Twisted's own transport iterates its
        argument twice, so a generator's pieces are lost there).
        """
        server, peer = self.connect()
        server.transport.writeSequence(piece for piece in [b"gen", b"erated"])
        self.assertArrives(peer, b"generated")

    def test_onlyWhatTheKernelRefusesWaits(self) -> None:
        server, peer = self.stalled()
        server.transport.write(pattern(1 * MiB))
        waiting = server.transport.bufferedAmount
        self.assertGreater(waiting, 0)
        self.assertLess(waiting, 1 * MiB)
        self.assertTrue(self.writing(server.transport))
        self.assertEqual(bufferedBytes(server.transport), waiting)

    def test_notPausedWhenTheKernelTakesEverything(self) -> None:
        """A write past bufferSize that the kernel takes at once pauses nothing."""
        server, peer = self.connect()
        server.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 * MiB)
        producer = self.producer(server.transport)
        server.transport.write(pattern(200 * KiB))
        self.assertEqual(producer.events, [])
        self.assertEqual(server.transport.bufferedAmount, 0)
        server.transport.unregisterProducer()

    def test_readsGrowAndShrink(self) -> None:
        """
        Reads that fill what was asked for double the next one, up to
        MAX_READ_SIZE; small reads bring it back to MIN_READ_SIZE.
        """
        server, peer = self.connect()
        sock = server.transport.getHandle()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * MiB)
        server.transport.pauseProducing()
        data = pattern(6 * MiB)
        peer.send(data)
        self.settle(0.2)
        server.transport.resumeProducing()
        self.runUntil(lambda: len(server.received) >= len(data))
        self.assertEqual(bytes(server.received), data)
        self.assertEqual(server.chunkSizes[0], MIN_READ_SIZE)
        self.assertEqual(max(server.chunkSizes), MAX_READ_SIZE)
        for i in range(1, 9):
            peer.send(b"small")
            expected = len(data) + 5 * i
            self.runUntil(lambda: len(server.received) >= expected)  # noqa: B023
        self.assertEqual(server.transport._readSize, MIN_READ_SIZE)


globals().update(everyTransport(Writing))
globals().update(everyTransport(Producers))
globals().update(everyTransport(Closing))
globals().update(everyTransport(Aborting))
globals().update(everyTransport(HalfClosing))
globals().update(everyTransport(Resets))
globals().update(everyTransport(Identity))
globals().update(everyTransport(Reading))
globals().update(everyTransport(StartTLS))
globals().update(everyTransport(WriteThrough, [m for m in MATRIX if m[0] == "writethrough"]))
