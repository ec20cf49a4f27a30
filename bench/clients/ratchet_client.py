"""
The client scenario's ratchet_tx client: ratchet_tx.client.connect on
Twisted's default reactor, one IApplication per connection that answers each
verified echo with the next message (by returning SendMessage, as an
application does).

    python ratchet_client.py --port 9000 --conns 64 --inflight 16 --size 32

Frames are masked by ratchet_tx itself: a fresh key per frame from its
MaskKeys (os.urandom drawn 1 KiB at a time), header, key and masked payload
written in one go by its C speedup (maskedFrame) where it was built.
"""

from __future__ import annotations

from typing import Any

from _common import CLOSE_GRACE, Meter, messages, parseArgs
from twisted.internet import reactor
from zope.interface import implementer

from ratchet_tx import IApplication, SendMessage
from ratchet_tx.client import connect
from ratchet_tx.websocket.codecs import hybi

MAX_MESSAGE = 64 << 20


@implementer(IApplication)
class EchoCheck:
    """One connection's side of the run."""

    def __init__(self, number: int, meter: Meter, sent: list[Any]) -> None:
        self.number = number
        self.meter = meter
        self.sent = sent
        self.conn: Any = None
        self.nextIn = 0
        self.nextOut = 0

    def start(self) -> None:
        for _ in range(self.meter.options.inflight):
            self.conn.send(self.sent[self.nextOut])
            self.nextOut += 1

    def onOpen(self, conn: Any) -> None:
        self.conn = conn

    def onMessage(self, conn: Any, message: Any) -> SendMessage | None:
        sent = self.sent
        expected = sent[self.nextIn]
        if message != expected:
            self.meter.mismatch(self.number, message, expected)
            return None
        self.nextIn = (self.nextIn + 1) % len(sent)
        meter = self.meter
        meter.received += 1
        if not meter.sending:
            return None
        out = sent[self.nextOut]
        self.nextOut = (self.nextOut + 1) % len(sent)
        return SendMessage(conn, out)

    def onClose(self, conn: Any) -> None:
        self.conn = None
        if not self.meter.done:
            self.meter.failed(f"connection {self.number} closed: {conn.closeCode}")
        self.closed()

    def closed(self) -> None:
        """Replaced by main: what to do once this connection is gone."""

    def onError(self, conn: Any, failure: Any) -> None:
        self.meter.failed(f"connection {self.number}: {failure.getErrorMessage()}")


def main() -> None:
    options = parseArgs(__doc__.split("\n\n")[0])
    apps: list[EchoCheck] = []

    def stopWhenClosed() -> None:
        if meter.done and reactor.running and all(app.conn is None for app in apps):
            reactor.stop()

    def finish() -> None:
        for app in apps:
            if app.conn is not None:
                app.conn.close()
        reactor.callLater(0, stopWhenClosed)
        reactor.callLater(CLOSE_GRACE, lambda: reactor.running and reactor.stop())

    meter = Meter(options, reactor.callLater, finish)
    print(f"ratchet_tx client: C speedups {hybi.SPEEDUPS}", flush=True)
    url = f"ws://{options.host}:{options.port}/"

    def opened(conn: Any, app: EchoCheck) -> None:
        if meter.connectionOpened():
            for each in apps:
                each.start()

    for number in range(options.conns):
        sent: list[Any] = messages(number, options)
        if not options.binary:
            sent = [m.decode("ascii") for m in sent]
        app = EchoCheck(number, meter, sent)
        app.closed = stopWhenClosed  # type: ignore[method-assign]
        apps.append(app)
        d = connect(reactor, url, app, deflate=False, maxMessageSize=MAX_MESSAGE)
        d.addCallback(opened, app)
        d.addErrback(lambda f, n=number: meter.failed(f"connection {n}: {f.getErrorMessage()}"))
    reactor.run()


if __name__ == "__main__":
    main()
