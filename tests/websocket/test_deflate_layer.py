"""
permessage-deflate through the layer: agreed from the client's offer,
messages inflated on the way in, and a broadcast compressed once for every
receiver without context takeover.
"""

from __future__ import annotations

import zlib

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.commands import Composite, SendMessage
from ratchet_tx.websocket.codecs import deflate
from ratchet_tx.websocket.codecs.deflate import DeflatePolicy
from ratchet_tx.websocket.settings import NO_DEFLATE
from tests.websocket.helpers import Harness, frame, hybiRequest

OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"
MESSAGE = "the same words, again and again; " * 40
FLUSH_TAIL = b"\x00\x00\xff\xff"


def compressedText(text: str) -> bytes:
    """A client's masked, compressed text frame."""
    compressor = zlib.compressobj(wbits=-15)
    payload = compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return frame(0x1, payload[: -len(FLUSH_TAIL)], rsv=0x4)


def inflated(wire: bytes) -> str:
    """The text of one unmasked compressed frame the server wrote."""
    assert wire[0] == 0xC1, hex(wire[0])  # FIN, RSV1, text
    length = wire[1] & 0x7F
    start = 2
    if length == 126:
        length, start = int.from_bytes(wire[2:4], "big"), 4
    payload = wire[start : start + length]
    return zlib.decompressobj(wbits=-15).decompress(payload + FLUSH_TAIL).decode()


class DeflateLayerTests(SynchronousTestCase):
    def openWithOffer(self, harness: Harness):
        peer = harness.open(hybiRequest(extra=[OFFER]))
        peer.transport.clear()
        return peer

    def test_compressedMessageIsInflated(self) -> None:
        """A compressed message reaches the application as plain text."""
        harness = Harness()
        peer = self.openWithOffer(harness)
        peer.receive(compressedText(MESSAGE))
        self.assertEqual(inflated(peer.transport.value()), MESSAGE)
        self.assertEqual(
            peer.conn.extensions,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        )

    def test_broadcastCompressedOnce(self) -> None:
        """
        Without context takeover, one message to many receivers is
        compressed once, and every receiver gets the same bytes.
        """
        harness = Harness()
        peers = [self.openWithOffer(harness) for _ in range(5)]
        calls = []
        original = deflate.PerMessageDeflate.compress

        def counting(self, payload):
            calls.append(payload)
            return original(self, payload)

        self.patch(deflate.PerMessageDeflate, "compress", counting)
        Composite(SendMessage(peer.conn, MESSAGE) for peer in peers).execute()
        self.assertEqual(len(calls), 1)
        written = {peer.transport.value() for peer in peers}
        self.assertEqual(len(written), 1)
        self.assertEqual(inflated(written.pop()), MESSAGE)

    def test_contextTakeoverCompressesPerConnection(self) -> None:
        """With context takeover each connection has its own compressor."""
        harness = Harness(deflate=DeflatePolicy())
        peers = [self.openWithOffer(harness) for _ in range(3)]
        calls = []
        original = deflate.PerMessageDeflate.compress
        self.patch(
            deflate.PerMessageDeflate,
            "compress",
            lambda self, payload: calls.append(payload) or original(self, payload),
        )
        for peer in peers:
            SendMessage(peer.conn, MESSAGE).execute()
        self.assertEqual(len(calls), 3)

    def test_turnedOff(self) -> None:
        """With NO_DEFLATE the offer is declined and frames are plain."""
        harness = Harness(deflate=NO_DEFLATE)
        peer = harness.connect()
        response = peer.handshake(hybiRequest(extra=[OFFER]))
        self.assertIsNone(response.header("Sec-WebSocket-Extensions"))
        self.assertIsNone(peer.conn.extensions)
        SendMessage(peer.conn, MESSAGE).execute()
        self.assertEqual(peer.frames(), [MESSAGE])
