"""
Tests for L{ratchet_tx.flow}: the flow-control settings and how much a
transport holds.
"""

from __future__ import annotations

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.flow import (
    DEFAULT_HIGH_WATER_MARK,
    DEFAULT_MAX_BUFFERED,
    FlowControl,
    SlowConsumer,
    bufferedBytes,
    socketTransport,
)


class FlowControlTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        flow = FlowControl()
        self.assertEqual(
            (flow.highWaterMark, flow.maxBuffered, flow.slowConsumer),
            (DEFAULT_HIGH_WATER_MARK, DEFAULT_MAX_BUFFERED, SlowConsumer.QUEUE),
        )

    def test_policyByName(self) -> None:
        self.assertIs(FlowControl(slowConsumer="drop").slowConsumer, SlowConsumer.DROP)  # type: ignore[arg-type]

    def test_unknownPolicy(self) -> None:
        self.assertRaises(ValueError, FlowControl, slowConsumer="maybe")

    def test_limitsMustBePositive(self) -> None:
        self.assertRaises(ValueError, FlowControl, highWaterMark=0)
        self.assertRaises(ValueError, FlowControl, maxBuffered=0)

    def test_maxBufferedAtLeastTheHighWaterMark(self) -> None:
        self.assertRaises(ValueError, FlowControl, highWaterMark=100, maxBuffered=99)


class Wrapper:
    """A protocol wrapper's transport (TLS, say) over another."""

    def __init__(self, transport: object, pending: list[bytes] | None = None) -> None:
        self.transport = transport
        self._appSendBuffer = pending or []


class BufferedBytesTests(SynchronousTestCase):
    def test_fileDescriptorBuffers(self) -> None:
        transport = StringTransport()
        transport.dataBuffer = b"0123456789"  # type: ignore[attr-defined]
        transport.offset = 4  # type: ignore[attr-defined]
        transport._tempDataLen = 3  # type: ignore[attr-defined]
        self.assertEqual(bufferedBytes(transport), 9)

    def test_throughWrappers(self) -> None:
        inner = StringTransport()
        inner.dataBuffer = b"abc"  # type: ignore[attr-defined]
        outer = Wrapper(inner, [b"held", b"back"])
        self.assertEqual(bufferedBytes(outer), 11)
        self.assertIs(socketTransport(outer), inner)

    def test_unknownTransportsCountNothing(self) -> None:
        self.assertEqual(bufferedBytes(object()), 0)
