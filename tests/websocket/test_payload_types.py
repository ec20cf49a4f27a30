"""
Every type C{send} accepts -- C{str}, a C{str} subclass, C{bytes},
C{bytearray}, C{memoryview} -- sent in every order, with and without
permessage-deflate, through L{SendMessage} and L{Broadcast}, to one and to
many receivers of every version: each receiver gets exactly the message sent,
as text or binary, never another one (the frame cache once served an earlier
message's frame for a type it had not stored).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from itertools import permutations
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.commands import Broadcast, Composite, SendMessage
from ratchet_tx.websocket import BinaryNotSupported
from ratchet_tx.websocket.codecs import hybi
from ratchet_tx.websocket.codecs.deflate import PerMessageDeflate
from tests.support.apps import RecordingApplication
from tests.websocket.helpers import Harness, Peer, hybiRequest

#: What a client offers: the server's default policy answers it with no
#: context takeover either way.
DEFLATE_OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"


class Text(str):
    """A C{str} subclass, like C{markupsafe.Markup}."""


class Colour(str, enum.Enum):
    """An enum whose values are strings."""

    RED = "red " * 80


def payloads(tag: str) -> dict[str, Any]:
    """
    One message of each type, all different, all long enough to be
    compressed (over the 32-byte minimum), tagged so runs do not repeat.
    """
    return {
        "str": f"{tag} plain text " + "a" * 300,
        "str subclass": Text(f"{tag} subclass " + "b" * 300),
        "bytes": f"{tag} bytes ".encode() + b"c" * 300,
        "bytearray": bytearray(f"{tag} bytearray ".encode() + b"d" * 300),
        "memoryview": memoryview(f"{tag} memoryview ".encode() + b"e" * 300),
    }


def expected(message: Any) -> str | bytes:
    """What a peer must receive for C{message}: its text or its bytes."""
    if isinstance(message, str):
        return str.__str__(message)
    return bytes(message)


class Receivers:
    """One open client of every version (the HyBi ones with or without deflate)."""

    def __init__(self, deflate: bool, many: bool) -> None:
        self.harness = Harness(RecordingApplication())
        extra = [DEFLATE_OFFER] if deflate else []
        wires = (13, 8, 7) if many else (13,)
        self.hybi = [self.harness.open(hybiRequest(wire, extra=extra)) for wire in wires]
        if many:
            self.hybi.append(self.harness.open(hybiRequest(13, extra=extra)))
        self.hixie = [self.harness.openHixie76(), self.harness.openHixie75()] if many else []
        for peer in self.hybi:
            self.assertDeflate(peer, deflate)
            peer.decoder = hybi.FrameDecoder(
                maxFrameSize=1 << 20,
                maxMessageSize=1 << 20,
                expectMasked=False,
                deflate=PerMessageDeflate(receiveNoContextTakeover=True) if deflate else None,
            )
        for peer in self.hixie:
            peer.output()

    @staticmethod
    def assertDeflate(peer: Peer, deflate: bool) -> None:
        agreed = peer.conn.extensions is not None
        if agreed != deflate:
            raise AssertionError(f"permessage-deflate agreed: {agreed}, wanted {deflate}")

    @property
    def everyone(self) -> list[Peer]:
        return self.hybi + self.hixie


Send = Callable[[list[Peer], Any], None]


def sendEach(peers: list[Peer], message: Any) -> None:
    Composite(SendMessage(peer.conn, message) for peer in peers).execute()


def broadcast(peers: list[Peer], message: Any) -> None:
    Broadcast([peer.conn for peer in peers], message).execute()


class EveryTypeEveryOrderTests(SynchronousTestCase):
    def check(self, deflate: bool, many: bool, send: Send) -> None:
        kinds = list(payloads("x"))
        for run, order in enumerate(permutations(kinds)):
            receivers = Receivers(deflate, many)
            sent: list[Any] = []
            for kind in order:
                message = payloads(f"{run}")[kind]
                sent.append(message)
                send(receivers.hybi, message)
                textual = isinstance(message, str)
                if receivers.hixie:
                    if textual:
                        send(receivers.hixie, message)
                    else:
                        self.assertRaises(BinaryNotSupported, send, receivers.hixie, message)
            wanted = [expected(message) for message in sent]
            for peer in receivers.hybi:
                got = peer.decoder.feed(peer.output())
                self.assertEqual(got, wanted, f"{order} to {peer.conn.version}")
                self.assertEqual([type(m) for m in got], [type(m) for m in wanted])
            texts = [m for m in wanted if isinstance(m, str)]
            for peer in receivers.hixie:
                self.assertEqual(peer.hixieFrames(), texts, f"{order} to {peer.conn.version}")

    def test_sendMessageToOne(self) -> None:
        self.check(deflate=False, many=False, send=sendEach)

    def test_sendMessageToOneWithDeflate(self) -> None:
        self.check(deflate=True, many=False, send=sendEach)

    def test_sendMessageToMany(self) -> None:
        self.check(deflate=False, many=True, send=sendEach)

    def test_sendMessageToManyWithDeflate(self) -> None:
        self.check(deflate=True, many=True, send=sendEach)

    def test_broadcastToOne(self) -> None:
        self.check(deflate=False, many=False, send=broadcast)

    def test_broadcastToOneWithDeflate(self) -> None:
        self.check(deflate=True, many=False, send=broadcast)

    def test_broadcastToMany(self) -> None:
        self.check(deflate=False, many=True, send=broadcast)

    def test_broadcastToManyWithDeflate(self) -> None:
        self.check(deflate=True, many=True, send=broadcast)


class ReportedCaseTests(SynchronousTestCase):
    """The case reported: C{"A" * 300}, then a C{str} subclass of C{"B" * 300}."""

    def test_subclassAfterAPlainString(self) -> None:
        for deflate in (False, True):
            receivers = Receivers(deflate, many=False)
            peer = receivers.hybi[0]
            for message in ("A" * 300, Text("B" * 300), memoryview(b"C" * 300)):
                peer.conn.send(message)
            self.assertEqual(
                peer.decoder.feed(peer.output()), ["A" * 300, "B" * 300, b"C" * 300]
            )

    def test_sameObjectAgainAfterAnother(self) -> None:
        """The cache serves a repeated object only its own frames."""
        receivers = Receivers(deflate=True, many=True)
        first, second = "first " * 60, "second " * 60
        sent = [first, second, first, Text(first), Colour.RED, first]
        for message in sent:
            broadcast(receivers.everyone, message)
        wanted = [expected(message) for message in sent]
        for peer in receivers.hybi:
            self.assertEqual(peer.decoder.feed(peer.output()), wanted)
        for peer in receivers.hixie:
            self.assertEqual(peer.hixieFrames(), wanted)
