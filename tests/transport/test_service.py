"""
The write-through transport as a user meets it: L{ServerService} listening
on a C{tcp:} endpoint from L{ratchet_tx.transport.serverFromString}, serving
C{Server(WebSocket(app))} to a real WebSocket client on loopback.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from zope.interface import implementer

from ratchet_tx.examples.echo import Echo
from ratchet_tx.server import Server
from ratchet_tx.service import ServerService
from ratchet_tx.transport import WriteThroughPort, WriteThroughServer, serverFromString
from ratchet_tx.websocket import WebSocket

TIMEOUT = 10


@implementer(IStreamServerEndpoint)
class RecordingEndpoint:
    """An endpoint that keeps the ports its inner endpoint listens on."""

    def __init__(self, inner: IStreamServerEndpoint) -> None:
        self.inner = inner
        self.ports: list[Any] = []

    def listen(self, factory):
        return self.inner.listen(factory).addCallback(self._listening)

    def _listening(self, port):
        self.ports.append(port)
        return port


class Opened(Echo):
    """Echo, keeping the transport of every connection it saw open."""

    def __init__(self) -> None:
        self.transports: list[object] = []

    def onOpen(self, conn) -> None:
        self.transports.append(conn.transportConnection.transport)


class ServiceTests(TestCase):
    timeout = 3 * TIMEOUT

    async def test_webSocketEndToEnd(self) -> None:
        """
        A client's messages come back over the write-through transport, and
        stopping the service closes the client with 1001.
        """
        app = Opened()
        endpoint = RecordingEndpoint(serverFromString(reactor, "tcp:0:interface=127.0.0.1"))
        service = ServerService(Server(WebSocket(app)), [endpoint], shutdownTimeout=TIMEOUT)
        service.startService()
        running = True

        async def stop() -> None:
            if running:
                await service.stopService()

        self.addCleanup(lambda: Deferred.fromCoroutine(stop()))
        [port] = endpoint.ports
        self.assertIsInstance(port, WriteThroughPort)
        url = f"ws://127.0.0.1:{port.getHost().port}/chat"
        client = await deferToThread(connect, url, open_timeout=TIMEOUT, legacy=True)
        self.addCleanup(client.close)

        def exchange() -> list[object]:
            client.send("héllo")
            client.send(b"\x00" * 300_000)
            return [client.recv(TIMEOUT), client.recv(TIMEOUT)]

        self.assertEqual(await deferToThread(exchange), ["héllo", b"\x00" * 300_000])
        self.assertEqual([type(t) for t in app.transports], [WriteThroughServer])

        def closed() -> int | None:
            try:
                client.recv(TIMEOUT)
            except ConnectionClosed as e:
                return e.rcvd.code if e.rcvd else None
            return None

        waiting = deferToThread(closed)
        running = False
        await service.stopService()
        self.assertEqual(await waiting, 1001)

