"""
The client scenario's Autobahn client: Autobahn|Python's
WebSocketClientProtocol on Twisted's default reactor, answering each
verified echo (onMessage) with the next message (sendMessage).

    python autobahn_client.py --port 9000 --conns 64 --inflight 16 --size 32

Frames are masked by Autobahn itself: a key per frame from
random.getrandbits(32) (Python's Mersenne Twister, no system call; Autobahn
chose it over os.urandom on purpose, see its issue 758), the payload masked
by its native NVX XorMasker (pure Python with AUTOBAHN_USE_NVX=0).  Text
arrives as UTF-8 bytes, validated by its NVX Utf8Validator, and is compared
as bytes.
"""

from __future__ import annotations

from typing import Any

from _common import CLOSE_GRACE, Meter, messages, parseArgs
from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from autobahn.websocket import USES_NVX
from twisted.internet import reactor


class EchoCheck(WebSocketClientProtocol):
    """One connection's side of the run (the factory numbers them)."""

    def onOpen(self) -> None:
        factory: Any = self.factory
        self.number = factory.opened
        factory.opened += 1
        factory.conns.append(self)
        self.meter: Meter = factory.meter
        self.sent = messages(self.number, self.meter.options)
        self.isBinary = self.meter.options.binary
        self.nextIn = self.nextOut = 0
        if self.meter.connectionOpened():
            for conn in factory.conns:
                conn.start()

    def start(self) -> None:
        for _ in range(self.meter.options.inflight):
            self.sendMessage(self.sent[self.nextOut], self.isBinary)
            self.nextOut += 1

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        sent = self.sent
        expected = sent[self.nextIn]
        if payload != expected or isBinary != self.isBinary:
            self.meter.mismatch(self.number, payload, expected)
            return
        self.nextIn = (self.nextIn + 1) % len(sent)
        meter = self.meter
        meter.received += 1
        if meter.sending:
            self.sendMessage(sent[self.nextOut], isBinary)
            self.nextOut = (self.nextOut + 1) % len(sent)

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
        factory: Any = self.factory
        if self in factory.conns:
            factory.conns.remove(self)
        if not factory.meter.done:
            factory.meter.failed(f"a connection closed: {code} {reason}")
        factory.stopWhenClosed()


def main() -> None:
    options = parseArgs(__doc__.split("\n\n")[0])
    factory = WebSocketClientFactory(f"ws://{options.host}:{options.port}/")
    factory.protocol = EchoCheck
    # No size limits, no automatic pings, no compression offered (the default).
    factory.setProtocolOptions(maxMessagePayloadSize=0, maxFramePayloadSize=0, autoPingInterval=0)
    factory.opened = 0
    factory.conns = []

    def stopWhenClosed() -> None:
        if factory.meter.done and reactor.running and not factory.conns:
            reactor.stop()

    def finish() -> None:
        for conn in list(factory.conns):
            conn.sendClose(1000)
        reactor.callLater(0, stopWhenClosed)
        reactor.callLater(CLOSE_GRACE, lambda: reactor.running and reactor.stop())

    factory.stopWhenClosed = stopWhenClosed
    factory.meter = Meter(options, reactor.callLater, finish)
    print(f"autobahn client: native accel (NVX) {USES_NVX}", flush=True)

    class Lost:
        def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
            factory.meter.failed(f"a connection failed: {reason.getErrorMessage()}")

    factory.clientConnectionFailed = Lost().clientConnectionFailed
    for _ in range(options.conns):
        reactor.connectTCP(options.host, options.port, factory, timeout=30)
    reactor.run()


if __name__ == "__main__":
    main()
