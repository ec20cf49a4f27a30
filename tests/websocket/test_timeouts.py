"""
Every wait of the WebSocket layer has a timeout, driven here by a fake clock
(L{Clock}, and L{MemoryReactorClock} where a reactor is expected): the
opening handshake, the closing handshake, pings to quiet RFC/HyBi peers, and
the idle timeout of Hixie peers, which cannot be pinged.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket import CloseCode, State
from ratchet_tx.websocket.codecs.events import Close, Ping
from tests.support.apps import LogCapture
from tests.websocket.helpers import (
    HIXIE_CLOSE,
    SAMPLE_KEY3,
    Harness,
    Peer,
    hixie76Request,
    hixieText,
    hybiRequest,
    loggedLines,
    pongFrame,
    textFrame,
)

#: How finely the tests step the clock, in seconds.
STEP = 0.25


def advanceUntil(clock: Clock, done, limit: float, step: float = STEP) -> float:
    """
    Advance C{clock} by C{step} until C{done()}; return the time it took.

    @raise AssertionError: not done after C{limit} seconds.
    """
    start = clock.seconds()
    while not done():
        if clock.seconds() - start > limit:
            raise AssertionError(f"not done within {limit} s")
        clock.advance(step)
    return clock.seconds() - start


def run(clock: Clock, seconds: float, step: float = STEP) -> None:
    """
    Let C{seconds} pass in steps of C{step}, as a live reactor would, running
    every timer when it is due.  (One big C{advance} would run a repeating
    timer once for all the beats it missed, as a stalled reactor does.)
    """
    end = clock.seconds() + seconds
    while clock.seconds() + step <= end:
        clock.advance(step)
    clock.advance(end - clock.seconds())


def noTimers(harness: Harness) -> list:
    return [call for call in harness.clock.getDelayedCalls() if call.active()]


class OpeningHandshakeTimeoutTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.log = LogCapture(self)

    def assertTimesOut(self, harness: Harness, peer: Peer, timeout: float) -> None:
        harness.clock.advance(timeout - 0.1)
        self.assertFalse(peer.closed)
        harness.clock.advance(0.2)
        self.assertTrue(peer.aborted)
        self.assertEqual(harness.app.events, [])
        self.assertTrue(loggedLines(self.log, "opening handshake timed out"))
        self.assertEqual(noTimers(harness), [])

    def test_headNeverEnds(self) -> None:
        harness = Harness(handshakeTimeout=7)
        peer = harness.connect()
        peer.receive(hybiRequest()[:40])
        self.assertTrue(len(harness.clock.getDelayedCalls()) == 1)
        self.assertTimesOut(harness, peer, 7)

    def test_silentClient(self) -> None:
        harness = Harness(handshakeTimeout=3)
        self.assertTimesOut(harness, harness.connect(), 3)

    def test_hixie76Key3NeverComes(self) -> None:
        harness = Harness(handshakeTimeout=5)
        peer = harness.connect()
        peer.receive(hixie76Request() + SAMPLE_KEY3[:7])
        self.assertIs(peer.conn.phase, State.CONNECTING)
        self.assertTimesOut(harness, peer, 5)

    def test_hookNeverDecides(self) -> None:
        pending: Deferred[None] = Deferred()
        harness = Harness(handshakeTimeout=4, onHandshake=lambda conn: pending)
        peer = harness.connect()
        peer.receive(hybiRequest())
        self.assertIs(peer.conn.phase, State.HANDSHAKE)
        self.assertTimesOut(harness, peer, 4)
        pending.callback(None)
        self.assertEqual(peer.output(), b"")
        self.assertEqual(harness.app.events, [])

    def test_timerCancelledOnceOpen(self) -> None:
        harness = Harness(handshakeTimeout=2, pingInterval=None, hixieIdleTimeout=None)
        peer = harness.open()
        self.assertEqual(noTimers(harness), [])
        harness.clock.advance(100)
        self.assertFalse(peer.closed)

    def test_timerCancelledOnRefusal(self) -> None:
        harness = Harness(handshakeTimeout=2)
        peer = harness.connect()
        self.assertEqual(peer.handshake(hybiRequest(99)).status, 426)
        self.assertEqual(noTimers(harness), [])

    def test_slowButInTime(self) -> None:
        harness = Harness(handshakeTimeout=10)
        peer = harness.connect()
        request = hybiRequest()
        for byte in range(len(request)):
            peer.receive(request[byte : byte + 1])
            harness.clock.advance(9.5 / len(request))
        self.assertEqual(peer.response().status, 101)


class PingTests(SynchronousTestCase):
    """
    A peer silent for C{pingInterval} is pinged; one that does not answer
    within C{pingTimeout} is dropped.
    """

    def setUp(self) -> None:
        self.log = LogCapture(self)

    def pings(self, peer: Peer) -> list:
        return [f for f in peer.frames() if type(f) is Ping]

    def test_quietPeerIsPinged(self) -> None:
        for wire in (13, 8, 7):
            harness = Harness(pingInterval=10, pingTimeout=5)
            peer = harness.open(hybiRequest(wire))
            peer.frames()
            run(harness.clock, 9.9)
            self.assertEqual(self.pings(peer), [], "pinged before pingInterval")
            took = 9.9 + advanceUntil(harness.clock, lambda p=peer: self.pings(p), 10)
            self.assertLessEqual(took, 15, "pinged far too late")
            self.assertFalse(peer.closed)

    def test_trafficMeansNoPing(self) -> None:
        harness = Harness(pingInterval=10, pingTimeout=5)
        peer = harness.open()
        peer.frames()
        for _ in range(20):
            run(harness.clock, 4)
            peer.sendText("tick")
        self.assertEqual(self.pings(peer), [])

    def test_answeredPingsKeepThePeer(self) -> None:
        harness = Harness(pingInterval=10, pingTimeout=5)
        peer = harness.open()
        peer.frames()
        answered = 0
        for _ in range(int(120 / STEP)):
            harness.clock.advance(STEP)
            for ping in self.pings(peer):
                peer.receive(pongFrame(ping.payload))
                answered += 1
        self.assertGreaterEqual(answered, 5)
        self.assertFalse(peer.closed)
        self.assertEqual(harness.app.callbacks(), ["onOpen"])

    def test_unansweredPingDropsThePeer(self) -> None:
        harness = Harness(pingInterval=10, pingTimeout=5)
        peer = harness.open()
        peer.frames()
        advanceUntil(harness.clock, lambda: self.pings(peer), 20)
        run(harness.clock, 4.9)
        self.assertFalse(peer.closed, "dropped before pingTimeout")
        took = 4.9 + advanceUntil(harness.clock, lambda: peer.closed, 10)
        self.assertLessEqual(took, 5 + 10 / 4 + STEP)
        self.assertTrue(peer.aborted)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(peer.conn.closeCode, CloseCode.ABNORMAL)
        self.assertTrue(loggedLines(self.log, "no answer to a ping"))
        self.assertEqual(noTimers(harness), [])

    def test_anyDataAnswersAPing(self) -> None:
        """A peer that sends a message instead of a pong is alive too."""
        harness = Harness(pingInterval=10, pingTimeout=5)
        peer = harness.open()
        peer.frames()
        advanceUntil(harness.clock, lambda: self.pings(peer), 20)
        peer.sendText("busy, but here")
        run(harness.clock, 8)
        self.assertFalse(peer.closed)

    def test_onlyTheSilentPeerIsDropped(self) -> None:
        harness = Harness(pingInterval=10, pingTimeout=5)
        silent, chatty = harness.open(), harness.open()
        for _ in range(int(40 / STEP)):
            harness.clock.advance(STEP)
            for ping in self.pings(chatty):
                chatty.receive(pongFrame(ping.payload))
        self.assertTrue(silent.aborted)
        self.assertFalse(chatty.closed)
        chatty.sendText("hi")
        self.assertEqual(chatty.frames(), ["hi"])

    def test_withAMemoryReactorClock(self) -> None:
        reactor = MemoryReactorClock()
        harness = Harness(clock=reactor, pingInterval=2, pingTimeout=2)
        peer = harness.open()
        peer.frames()
        advanceUntil(reactor, lambda: peer.closed, 10)
        self.assertTrue(peer.aborted)
        self.assertEqual(reactor.getDelayedCalls(), [])

    def test_pingsOff(self) -> None:
        harness = Harness(pingInterval=None, hixieIdleTimeout=None)
        peer = harness.open()
        peer.frames()
        harness.clock.advance(10_000)
        self.assertEqual(peer.frames(), [])
        self.assertFalse(peer.closed)

    def test_noPingWhileClosing(self) -> None:
        harness = Harness(pingInterval=2, pingTimeout=2, closeTimeout=30)
        peer = harness.open()
        peer.frames()
        peer.conn.close()
        run(harness.clock, 20)
        self.assertEqual(peer.frames(), [Close(1000, "")])

    def test_heartbeatStopsWithTheLastConnection(self) -> None:
        harness = Harness(pingInterval=10, pingTimeout=5)
        first, second = harness.open(), harness.open()
        self.assertTrue(noTimers(harness))
        first.sendClose(1000)
        self.assertTrue(noTimers(harness))
        second.sendClose(1000)
        self.assertEqual(noTimers(harness), [])
        # And starts again with the next one.
        third = harness.open()
        third.frames()
        advanceUntil(harness.clock, lambda: self.pings(third), 20)


class HixieIdleTimeoutTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.log = LogCapture(self)

    def test_idleHixieClientIsClosed(self) -> None:
        harness = Harness(hixieIdleTimeout=30, pingInterval=None, closeTimeout=5)
        peer = harness.openHixie76()
        peer.output()
        run(harness.clock, 29.9)
        self.assertEqual(peer.output(), b"", "closed before the idle timeout")
        took = 29.9 + advanceUntil(harness.clock, lambda: peer.transport.value().endswith(
            HIXIE_CLOSE), 30)
        self.assertLessEqual(took, 30 + 30 / 4 + STEP)
        self.assertEqual(peer.output(), HIXIE_CLOSE)
        self.assertIs(peer.conn.phase, State.CLOSING)
        self.assertTrue(loggedLines(self.log, "idle"))
        # This client does not answer the close; the close timeout drops it.
        run(harness.clock, 5.1)
        self.assertTrue(peer.closed)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(noTimers(harness), [])

    def test_idleHixie75ClientIsClosedAtOnce(self) -> None:
        """Draft 75 has no closing handshake: idle means TCP closed, no wait."""
        harness = Harness(hixieIdleTimeout=30, pingInterval=None, closeTimeout=5)
        peer = harness.openHixie75()
        took = advanceUntil(harness.clock, lambda: peer.closed, 60)
        self.assertLessEqual(took, 30 + 30 / 4 + STEP)
        self.assertFalse(peer.aborted)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(noTimers(harness), [])

    def test_idleHixieClientAnswersTheClose(self) -> None:
        harness = Harness(hixieIdleTimeout=30, pingInterval=None)
        peer = harness.openHixie76()
        advanceUntil(harness.clock, lambda: peer.transport.value().endswith(HIXIE_CLOSE), 60)
        peer.receive(HIXIE_CLOSE)
        self.assertTrue(peer.closed)
        self.assertFalse(peer.aborted)

    def test_messagesKeepAHixieClient(self) -> None:
        harness = Harness(hixieIdleTimeout=30, pingInterval=None)
        peer = harness.openHixie76()
        peer.output()
        for _ in range(20):
            run(harness.clock, 20)
            peer.receive(hixieText("still typing"))
        self.assertFalse(peer.closed)
        self.assertEqual(peer.hixieFrames(), ["still typing"] * 20)

    def test_hixieIsNeverPinged(self) -> None:
        harness = Harness(hixieIdleTimeout=None, pingInterval=5, pingTimeout=5)
        hixie = harness.openHixie76()
        rfc = harness.open()
        hixie.output()
        rfc.frames()
        run(harness.clock, 100)
        self.assertEqual(hixie.output(), b"")
        self.assertFalse(hixie.closed)
        self.assertTrue(rfc.aborted)

    def test_idleTimeoutOff(self) -> None:
        harness = Harness(hixieIdleTimeout=None, pingInterval=None)
        peer = harness.openHixie76()
        peer.output()
        harness.clock.advance(100_000)
        self.assertEqual(peer.output(), b"")
        self.assertEqual(noTimers(harness), [])

    def test_rfcClientNotSubjectToHixieIdleTimeout(self) -> None:
        harness = Harness(hixieIdleTimeout=10, pingInterval=None)
        peer = harness.open()
        peer.frames()
        run(harness.clock, 1000)
        self.assertEqual(peer.frames(), [])
        self.assertFalse(peer.closed)


class CloseTimeoutTests(SynchronousTestCase):
    def test_closeTimeoutAfterAProtocolErrorIsNotNeeded(self) -> None:
        """A failed connection is closed at once; no timer is left behind."""
        harness = Harness()
        peer = harness.open()
        peer.receive(b"\x81\x05hello")  # unmasked
        self.assertTrue(peer.closed)
        self.assertEqual(noTimers(harness), [])

    def test_closeTimeoutWithAMemoryReactorClock(self) -> None:
        reactor = MemoryReactorClock()
        harness = Harness(clock=reactor, closeTimeout=1.5, pingInterval=None,
                          hixieIdleTimeout=None)
        peer = harness.open()
        peer.sendText("x")
        peer.conn.close(1001, "shutting down")
        reactor.advance(1.4)
        self.assertFalse(peer.closed)
        reactor.advance(0.2)
        self.assertTrue(peer.aborted)
        self.assertEqual(peer.conn.closeCode, 1001)
        self.assertEqual(harness.app.callbacks(), ["onOpen", "onMessage", "onClose"])

    def test_answerInTimeCancelsTheTimer(self) -> None:
        harness = Harness(closeTimeout=1.5, pingInterval=None, hixieIdleTimeout=None)
        peer = harness.open()
        peer.conn.close()
        harness.clock.advance(1)
        peer.receive(textFrame("late message") + b"")
        peer.sendClose(1000)
        self.assertTrue(peer.closed)
        self.assertFalse(peer.aborted)
        self.assertEqual(noTimers(harness), [])
