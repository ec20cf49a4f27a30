"""
The Redis client and subscriber provide their interfaces (and
L{twisted.application.service.IService}), so fakes can stand in for them.
"""

from __future__ import annotations

from twisted.application.service import IService
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

import ratchet_tx.redis as package
from ratchet_tx.redis import (
    IRedisClient,
    IRedisConnection,
    IRedisSubscriber,
    RedisClient,
    RedisSubscriber,
)


class InterfaceTests(SynchronousTestCase):
    def test_client(self) -> None:
        client = RedisClient(MemoryReactorClock(), "redis://127.0.0.1")
        for interface in (IRedisClient, IRedisConnection, IService):
            self.assertTrue(verifyObject(interface, client))

    def test_subscriber(self) -> None:
        subscriber = RedisSubscriber(MemoryReactorClock(), "redis://127.0.0.1", print)
        for interface in (IRedisSubscriber, IRedisConnection, IService):
            self.assertTrue(verifyObject(interface, subscriber))

    def test_exports(self) -> None:
        for name in package.__all__:
            self.assertTrue(hasattr(package, name), name)
        self.assertEqual(sorted(package.__all__), package.__all__)
