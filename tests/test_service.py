"""
Tests for L{ratchet_tx.service}: listening on several endpoints, and closing
clients gracefully on the way out.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import Site

from ratchet_tx.server import Server
from ratchet_tx.service import ServerService
from tests.support.apps import CountingTransport, RecordingApplication


class RecordingEndpoint:
    """An endpoint that records the factory it listened with."""

    def __init__(self) -> None:
        self.factories: list[object] = []
        self.stopped = 0

    def listen(self, factory: object):
        self.factories.append(factory)
        endpoint = self

        class Port:
            def stopListening(self):
                endpoint.stopped += 1
                return succeed(None)

        return succeed(Port())


class ServerServiceTests(SynchronousTestCase):
    def test_listensOnEveryEndpoint(self) -> None:
        server = Server(RecordingApplication())
        endpoints = [RecordingEndpoint(), RecordingEndpoint()]
        service = ServerService(server, endpoints)
        service.startService()
        self.assertEqual([e.factories for e in endpoints], [[server], [server]])
        self.successResultOf(service.stopService())
        self.assertEqual([e.stopped for e in endpoints], [1, 1])

    def test_stopClosesTheClientsOfTheServer(self) -> None:
        app = RecordingApplication()
        server = Server(app)
        clock = Clock()
        service = ServerService(server, [RecordingEndpoint()], clock=clock)
        service.startService()
        transport = CountingTransport()
        proto = server.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        transport.protocol = proto
        proto.makeConnection(transport)
        stopped = service.stopService()
        self.successResultOf(stopped)
        self.assertEqual(transport.loseConnectionCalls, 1)
        self.assertEqual(app.callbacks(), ["onOpen", "onClose"])
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_aSiteClosesTheServersItIsGiven(self) -> None:
        server = Server(RecordingApplication())
        service = ServerService(Site(Resource()), [RecordingEndpoint()], servers=[server])
        self.assertEqual(service.servers, [server])
        self.assertEqual(ServerService(Site(Resource()), []).servers, [])

    def test_aPortThatCannotBeBoundFailsTheStart(self) -> None:
        reactor = MemoryReactorClock()

        class Refusing:
            def listen(self, factory):
                from twisted.internet.defer import fail
                from twisted.internet.error import CannotListenError

                return fail(CannotListenError("127.0.0.1", 8080, OSError("in use")))

        service = ServerService(Server(RecordingApplication()), [Refusing()], clock=reactor)
        from twisted.internet.error import CannotListenError

        self.assertRaises(CannotListenError, service.startService)
