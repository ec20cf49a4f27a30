"""
Hostile handshakes and frames against a real C{twistd ratchet}, over real
loopback sockets.

Every attack must get its answer promptly (L{PROMPT} seconds): the right HTTP
status, or the right close code (read by the client when it can be, and in
every case from the server's own books: L{tests.abuse.apps.Probe} records the
close code of every connection).  A burst of L{BURST} attacks of each kind,
after a warm-up, must leave the server's file descriptors exactly where they
were and its RSS within L{RSS_TOLERANCE_KIB} (see L{tests.abuse.support}).
Nothing may be logged at error level, and no connection may be opened or
closed twice.

The server runs with small limits so the attacks are quick:
L{HANDSHAKE_TIMEOUT}, L{MAX_MESSAGE} and a close timeout of 1 s.
"""

from __future__ import annotations

import os
import select
import socket
import time

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs import hybi
from ratchet_tx.websocket.codecs.events import Close
from tests.abuse.support import (
    BURST,
    PROMPT,
    Baseline,
    errorLines,
    probeStats,
    rawConnect,
    readHead,
    readUntilClosed,
    record,
    reset,
    startProbe,
)
from tests.websocket.helpers import (
    SAMPLE_ANSWER,
    SAMPLE_KEY3,
    closeFrame,
    continuationFrame,
    hixie75Request,
    hixie76Request,
    hixieText,
    hybiRequest,
    textFrame,
)

#: --handshake-timeout of the server under attack, in seconds.
HANDSHAKE_TIMEOUT = 0.5
#: --max-message-size (and so the frame limit) of the server under attack.
MAX_MESSAGE = 64 * 1024
#: The size of each fragment an endless-fragments attacker sends.
FRAGMENT = 1024


def warmUp(count: int) -> int:
    """Attacks run before the baseline is measured, for a burst of C{count}."""
    return max(count // 4, 1)


def versionRequest(version: str) -> bytes:
    """An RFC 6455-style handshake carrying C{Sec-WebSocket-Version: version}."""
    return (
        "GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: {version}\r\n\r\n"
    ).encode("latin-1")


def headerFlood(headers: int) -> bytes:
    """A valid handshake followed by C{headers} more header fields."""
    head = hybiRequest(13)[:-2]
    flood = b"".join(b"X-Flood-%d: %d\r\n" % (i, i) for i in range(headers))
    return head + flood + b"\r\n"


def endlessFragments() -> bytes:
    """
    A fragmented message up to the limit, then the header of a fragment that
    crosses it: the attack of a client that fragments forever, cut where the
    server must fail it (so no byte is left unread, and the server's close
    frame is not lost to a reset).
    """
    fragments = [textFrame("a" * FRAGMENT, fin=False)]
    fragments += [continuationFrame(b"a" * FRAGMENT, fin=False)] * (MAX_MESSAGE // FRAGMENT - 1)
    crossing = continuationFrame(b"a" * FRAGMENT, fin=False)
    return b"".join(fragments) + crossing[: 2 + 2 + 4]


def serverEvents(data: bytes) -> list:
    """The frames a server sent, decoded (a 101 head in front is skipped)."""
    if data.startswith(b"HTTP/"):
        data = data.split(b"\r\n\r\n", 1)[1]
    return hybi.FrameDecoder(maxMessageSize=2**20, expectMasked=False).feed(data)


class HostileTestCase(SynchronousTestCase):
    """One twistd Probe with small limits per test, stopped after it."""

    def setUp(self) -> None:
        self.proc = startProbe(
            "--handshake-timeout",
            str(HANDSHAKE_TIMEOUT),
            "--max-message-size",
            str(MAX_MESSAGE),
            "--close-timeout",
            "1",
        )
        self.addCleanup(self.proc.stop)
        self.port = self.proc.port

    def openRaw(self, request: bytes | None = None) -> tuple[socket.socket, bytes]:
        """A socket whose opening handshake succeeded, and what came after the 101."""
        sock = rawConnect(self.port)
        sock.sendall(request if request is not None else hybiRequest(13))
        status, data = readHead(sock)
        self.assertEqual(status, 101, data)
        return sock, data.split(b"\r\n\r\n", 1)[1]

    def assertClean(self, opened: int | None = None, closeCodes: dict | None = None) -> dict:
        """
        Nothing logged at error level; every connection opened was closed
        once (the stats connection itself is the one left open).
        """
        stats = probeStats(self.port)
        self.assertEqual(stats["anomalies"], 0, stats)
        self.assertEqual(stats["open"], 1, stats)
        self.assertEqual(stats["opened"], stats["closed"] + 1, stats)
        if opened is not None:
            self.assertEqual(stats["opened"], opened + 1, stats)
        for code, count in (closeCodes or {}).items():
            self.assertEqual(stats["closeCodes"].get(str(code), 0), count, stats)
        self.assertEqual(errorLines(self.proc.log()), [])
        return stats

    def burst(self, name: str, attack, count: int = BURST) -> dict:
        """
        Run C{attack} (a callable) a quarter of C{count} times to warm up,
        then C{count} times between two measurements of the server.
        """
        for _ in range(warmUp(count)):
            attack()
        baseline = Baseline(self.proc)
        for _ in range(count):
            attack()
        return baseline.check(self, name, count)


class HeaderFloodTests(HostileTestCase):
    def refusedWith(self, data: bytes, status: int, end: bool = True) -> bytes:
        sock = rawConnect(self.port)
        try:
            started = time.monotonic()
            sock.sendall(data)
            got, response = readHead(sock)
            self.assertEqual(got, status, response)
            self.assertLess(time.monotonic() - started, PROMPT)
            if end:
                readUntilClosed(sock)
        finally:
            sock.close()
        return response

    def test_manyHeaders431(self) -> None:
        """More than 100 header fields: 431, and the connection is closed."""
        self.refusedWith(headerFlood(150), 431)

    def test_headerFloodWithoutEnd431(self) -> None:
        """
        A client that sends header lines and never the blank line gets 431
        as soon as it passed the limit, not when it stops.
        """
        self.refusedWith(headerFlood(120)[:-2], 431)

    def test_oversizedHead431(self) -> None:
        """A head over --max-handshake-size (16 KiB): 431."""
        self.refusedWith(hybiRequest(13, extra=["X-Big: " + "a" * 20000]), 431)

    def test_floodBurstBackToBaseline(self) -> None:
        flood = headerFlood(150)
        self.burst("header flood (431)", lambda: self.refusedWith(flood, 431))
        self.assertClean(opened=0)


class MalformedTargetTests(HostileTestCase):
    def test_badIPv6LiteralInAbsoluteTarget400(self) -> None:
        """
        A request line whose absolute-form target has an unbalanced "[":
        400, and nothing logged at error level.
        """
        # Regression (fixed in d984c56): the server logged two critical
        # errors with a traceback ("Application error", "WebSocket layer
        # failed": ValueError: Invalid IPv6 URL from urllib.parse.urlsplit in
        # ratchet_tx/websocket/codecs/http.py _splitTarget) and closed the
        # connection without an answer.  Codec-level test:
        # tests.abuse.test_fuzz_codecs.HandshakeRegressionTests.
        request = hybiRequest(13).replace(b"GET /chat ", b"GET http://[::1/chat ")
        sock = rawConnect(self.port)
        try:
            sock.sendall(request)
            received, _ = readUntilClosed(sock)
        finally:
            sock.close()
        self.assertEqual(received.split(b" ", 2)[1:2], [b"400"], received)
        self.assertClean(opened=0)


class UnknownVersionTests(HostileTestCase):
    VERSIONS = ("0", "6", "9", "12", "14", "99", "abc", "13, 8", "-13", "1" * 40)

    def test_426NamesTheVersionsSpoken(self) -> None:
        for version in self.VERSIONS:
            sock = rawConnect(self.port)
            try:
                sock.sendall(versionRequest(version))
                status, response = readHead(sock)
                self.assertEqual(status, 426, (version, response))
                self.assertIn(b"Sec-WebSocket-Version: 13, 8, 7\r\n", response)
                readUntilClosed(sock)
            finally:
                sock.close()
        self.assertClean(opened=0)

    def test_burstBackToBaseline(self) -> None:
        request = versionRequest("9")

        def attack() -> None:
            sock = rawConnect(self.port)
            try:
                sock.sendall(request)
                self.assertEqual(readHead(sock)[0], 426)
                readUntilClosed(sock)
            finally:
                sock.close()

        self.burst("unknown version (426)", attack)
        self.assertClean(opened=0)


class SlowlorisTests(HostileTestCase):
    """Handshakes dribbled a byte at a time never complete: the timeout drops them."""

    def dribble(self, count: int, interval: float = 0.05) -> list[float]:
        """
        Open C{count} connections that send a handshake one byte per
        C{interval} seconds (the head never ends in time); return how long
        each lasted before the server dropped it.
        """
        head = hybiRequest(13)[:-2] + b"".join(b"X-Slow-%d: 1\r\n" % i for i in range(90))
        socks = []
        connected: dict[socket.socket, float] = {}
        for _ in range(count):
            sock = rawConnect(self.port)
            connected[sock] = time.monotonic()
            sock.setblocking(False)
            socks.append(sock)
        sent = dict.fromkeys(socks, 0)
        lasted: dict[socket.socket, float] = {}
        deadline = time.monotonic() + HANDSHAKE_TIMEOUT + 3 * PROMPT
        try:
            while sent and time.monotonic() < deadline:
                for sock in list(sent):
                    try:
                        if sock.recv(4096) == b"":
                            raise ConnectionResetError
                        self.fail("the server answered a dribbled handshake")
                    except BlockingIOError:
                        pass
                    except OSError:
                        lasted[sock] = time.monotonic() - connected[sock]
                        del sent[sock]
                        continue
                    try:
                        sock.send(head[sent[sock] : sent[sock] + 1])
                        sent[sock] += 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        lasted[sock] = time.monotonic() - connected[sock]
                        del sent[sock]
                time.sleep(interval)
        finally:
            for sock in socks:
                sock.close()
        self.assertEqual(sent, {}, "dribbling connections still open past the timeout")
        return list(lasted.values())

    def test_droppedAtTheHandshakeTimeout(self) -> None:
        lasted = self.dribble(20)
        self.assertGreaterEqual(min(lasted), HANDSHAKE_TIMEOUT * 0.9)
        self.assertLess(max(lasted), HANDSHAKE_TIMEOUT + PROMPT)
        self.assertClean(opened=0)
        self.assertIn("opening handshake timed out", self.proc.log())

    def test_burstBackToBaseline(self) -> None:
        self.dribble(warmUp(BURST))
        baseline = Baseline(self.proc)
        lasted = self.dribble(BURST)
        figures = baseline.check(self, "slowloris (handshake timeout)", BURST)
        record("slowloris lasted", longest=round(max(lasted), 2), shortest=round(min(lasted), 2))
        self.assertLess(max(lasted), HANDSHAKE_TIMEOUT + PROMPT, figures)
        self.assertClean(opened=0)


class OversizedFrameTests(HostileTestCase):
    def closedWith(self, data: bytes, code: int) -> None:
        sock, _ = self.openRaw()
        try:
            started = time.monotonic()
            sock.sendall(data)
            received, _ = readUntilClosed(sock)
            self.assertLess(time.monotonic() - started, PROMPT)
            self.assertEqual(serverEvents(received)[-1].code, code, received)
        finally:
            sock.close()

    def test_2To63MinusOneBytes1009(self) -> None:
        """A header claiming 2**63 - 1 bytes: 1009 at once, nothing is awaited."""
        header = b"\x82\xff" + (2**63 - 1).to_bytes(8, "big") + os.urandom(4)
        self.closedWith(header, 1009)
        self.assertClean(opened=1, closeCodes={1009: 1})

    def test_2To63Bytes1002(self) -> None:
        """
        A length of exactly 2**63 has the most significant bit set, which RFC
        6455 section 5.2 forbids: a protocol error (1002), at once too.
        """
        header = b"\x82\xff" + (2**63).to_bytes(8, "big") + os.urandom(4)
        self.closedWith(header, 1002)
        self.assertClean(opened=1, closeCodes={1002: 1})

    def test_hugeControlFrameHeader1002(self) -> None:
        header = b"\x89\xff" + (2**40).to_bytes(8, "big") + os.urandom(4)
        self.closedWith(header, 1002)
        self.assertClean(opened=1, closeCodes={1002: 1})

    def test_endlessFragments1009(self) -> None:
        """
        A message fragmented forever: 1009 as soon as the fragments' headers
        add up to more than the message limit.
        """
        self.closedWith(endlessFragments(), 1009)
        self.assertClean(opened=1, closeCodes={1009: 1})

    def test_endlessFragmentsKeepComing(self) -> None:
        """
        An attacker that keeps sending after the limit: the server closes
        promptly (the client may see the close or, having kept writing, a
        reset), and its books say 1009.
        """
        sock, _ = self.openRaw()
        fragment = continuationFrame(b"a" * FRAGMENT, fin=False)
        started = time.monotonic()
        broken = False
        try:
            sock.sendall(textFrame("a" * FRAGMENT, fin=False))
            for _ in range(20 * MAX_MESSAGE // FRAGMENT):
                try:
                    sock.sendall(fragment)
                except OSError:
                    broken = True
                    break
            if not broken:
                readUntilClosed(sock)
        finally:
            sock.close()
        self.assertLess(time.monotonic() - started, PROMPT)
        self.assertClean(opened=1, closeCodes={1009: 1})

    def test_burstBackToBaseline(self) -> None:
        header = b"\x82\xff" + (2**63 - 1).to_bytes(8, "big") + os.urandom(4)
        fragments = endlessFragments()
        attacks = [lambda: self.closedWith(header, 1009), lambda: self.closedWith(fragments, 1009)]
        turn = iter(range(10**6))
        self.burst("2**63 header / endless fragments (1009)", lambda: attacks[next(turn) % 2]())
        self.assertClean(closeCodes={1009: BURST + warmUp(BURST)})


class HixieEndlessFrameTests(HostileTestCase):
    def openHixie76(self) -> socket.socket:
        sock, after = self.openRaw(hixie76Request(host="localhost") + SAMPLE_KEY3)
        self.assertEqual(after, SAMPLE_ANSWER)
        return sock

    def closedWithHixieClose(
        self, sock: socket.socket, data: bytes, closeFrame: bytes = b"\xff\x00"
    ) -> None:
        try:
            started = time.monotonic()
            sock.sendall(data)
            received, how = readUntilClosed(sock)
            self.assertLess(time.monotonic() - started, PROMPT)
            self.assertEqual(received, closeFrame)
            self.assertEqual(how, "eof")
        finally:
            sock.close()

    def test_textFrameWithoutEnd(self) -> None:
        """A text frame whose 0xFF never comes: closed once past the limit."""
        sock = self.openHixie76()
        self.closedWithHixieClose(sock, b"\x00" + b"a" * (MAX_MESSAGE + 1))
        self.assertClean(opened=1, closeCodes={1009: 1})

    def test_textFrameWithoutEndHixie75(self) -> None:
        """Draft 75 has no close frame: the server just closes TCP."""
        sock, _ = self.openRaw(hixie75Request(host="localhost"))
        self.closedWithHixieClose(sock, b"\x00" + b"a" * (MAX_MESSAGE + 1), closeFrame=b"")
        self.assertClean(opened=1, closeCodes={1009: 1})

    def test_hugeLengthPrefixedFrame(self) -> None:
        """A length-prefixed frame whose length passes the limit: closed at its length."""
        sock = self.openHixie76()
        self.closedWithHixieClose(sock, b"\x80\xff\xff")
        self.assertClean(opened=1, closeCodes={1009: 1})

    def test_burstBackToBaseline(self) -> None:
        attack = b"\x00" + b"a" * (MAX_MESSAGE + 1)
        self.burst(
            "Hixie frame without end (1009)",
            lambda: self.closedWithHixieClose(self.openHixie76(), attack),
        )
        self.assertClean(closeCodes={1009: BURST + warmUp(BURST)})


def handshakeAndFrames() -> list[tuple[str, bytes, bytes]]:
    """
    For each kind of client: its handshake, and the frames it sends after
    the server accepted (a message, then the close).
    """
    return [
        ("rfc6455", hybiRequest(13), textFrame("hello") + closeFrame(1000, "bye")),
        ("hybi-07", hybiRequest(7), textFrame("hello") + closeFrame(1000)),
        (
            "hixie-76",
            hixie76Request(host="localhost") + SAMPLE_KEY3,
            hixieText("hello") + b"\xff\x00",
        ),
    ]


class ResetAtEveryOffsetTests(HostileTestCase):
    """
    Clients that reset (RST) their connection after every possible prefix of
    their handshake, and after every prefix of the frames that follow it.
    """

    def resetAfter(self, data: bytes, handshake: bytes | None = None) -> None:
        if handshake is None:
            sock = rawConnect(self.port)
        else:
            sock, _ = self.openRaw(handshake)
        if data:
            sock.sendall(data)
        reset(sock)

    def test_everyOffset(self) -> None:
        opened = 0
        attacks = 0
        for _, handshake, frames in handshakeAndFrames():
            for offset in range(len(handshake)):
                self.resetAfter(handshake[:offset])
                attacks += 1
            for offset in range(len(frames) + 1):
                self.resetAfter(frames[:offset], handshake)
                opened += 1
                attacks += 1
        # Only after every connection is gone may the books be read.
        baseline = Baseline(self.proc)
        record("resets at every offset", attacks=attacks, opened=opened, fds=baseline.fds)
        self.assertClean(opened=opened)

    def test_burstBackToBaseline(self) -> None:
        _, handshake, frames = handshakeAndFrames()[0]
        offsets = iter(range(10**6))

        def attack() -> None:
            offset = next(offsets)
            if offset % 2:
                self.resetAfter(handshake[: offset % len(handshake)])
            else:
                self.resetAfter(frames[: offset % len(frames)], handshake)

        self.burst("resets mid-handshake / mid-frame", attack)
        self.assertClean()


class MixedAttackTests(HostileTestCase):
    """Honest clients are served while every attack above runs at once."""

    def test_honestClientUnharmed(self) -> None:
        attackers = []
        for request in (headerFlood(150), versionRequest("9")):
            sock = rawConnect(self.port)
            sock.sendall(request)
            attackers.append(sock)
        slow = rawConnect(self.port)
        slow.sendall(b"GET / HTTP/1.1\r\n")
        attackers.append(slow)
        huge, _ = self.openRaw()
        huge.sendall(b"\x82\xff" + (2**63 - 1).to_bytes(8, "big") + os.urandom(4))
        attackers.append(huge)
        honest, _ = self.openRaw()
        try:
            honest.sendall(textFrame("still here?"))
            data = b""
            deadline = time.monotonic() + PROMPT
            while not serverEvents(data) and time.monotonic() < deadline:
                ready, _, _ = select.select([honest], [], [], 0.1)
                if ready:
                    data += honest.recv(65536)
            self.assertEqual(serverEvents(data), ["still here?"])
            honest.sendall(closeFrame(1000))
            received, _ = readUntilClosed(honest)
            self.assertEqual(serverEvents(received), [Close(1000, "")])
        finally:
            honest.close()
            for sock in attackers:
                sock.close()
        time.sleep(HANDSHAKE_TIMEOUT + 0.2)
        self.assertClean()
