"""
Tests for L{ratchet_tx.websocket.settings}: every limit named, bounded and
checked, and the small decisions settings make.
"""

from __future__ import annotations

from ipaddress import ip_network

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs.handshake import WebSocketVersion
from ratchet_tx.websocket.settings import (
    DEFAULT_MAX_HANDSHAKE_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
    Settings,
)


class DefaultsTests(SynchronousTestCase):
    def test_limitsHaveTheirNamedDefaults(self) -> None:
        settings = Settings()
        self.assertEqual(settings.maxHandshakeSize, DEFAULT_MAX_HANDSHAKE_SIZE)
        self.assertEqual(settings.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE)

    def test_frameLimitFollowsTheMessageLimit(self) -> None:
        self.assertIsNone(Settings().maxFrameSize)
        self.assertIsNone(Settings(maxMessageSize=4 << 20).maxFrameSize)
        self.assertEqual(Settings(maxFrameSize=1000).maxFrameSize, 1000)


class ValidationTests(SynchronousTestCase):
    def test_nonPositiveLimits(self) -> None:
        for name in ("maxHandshakeSize", "maxMessageSize", "maxFrameSize", "handshakeTimeout",
                     "closeTimeout", "pingTimeout", "maxConnections", "maxConnectionsPerAddress",
                     "pingInterval", "hixieIdleTimeout"):
            for value in (0, -1):
                self.assertRaises(ValueError, Settings, **{name: value})

    def test_noVersion(self) -> None:
        self.assertRaises(ValueError, Settings, versions=frozenset())

    def test_negativeTrustedProxies(self) -> None:
        self.assertRaises(ValueError, Settings, trustedProxies=-1)

    def test_offSwitches(self) -> None:
        settings = Settings(pingInterval=None, hixieIdleTimeout=None, maxFrameSize=None)
        self.assertIsNone(settings.pingInterval)


class BuildTests(SynchronousTestCase):
    def test_iterables(self) -> None:
        settings = Settings.build(
            versions=(v for v in [WebSocketVersion.RFC6455]),
            subprotocols=["a", "b"],
            origins=["https://A.example"],
            blocked=["203.0.113.0/24", "2001:db8::1"],
        )
        self.assertEqual(settings.versions, frozenset([WebSocketVersion.RFC6455]))
        self.assertEqual(settings.subprotocols, ("a", "b"))
        self.assertIn(ip_network("2001:db8::1/128"), settings.blocked)


class DecisionTests(SynchronousTestCase):
    def test_originsCaseInsensitive(self) -> None:
        settings = Settings.build(origins=["https://Chat.Example"])
        self.assertTrue(settings.originAllowed("https://chat.example"))
        self.assertFalse(settings.originAllowed("https://evil.example"))
        self.assertTrue(settings.originAllowed(None))
        self.assertFalse(Settings.build(origins=["x"], requireOrigin=True).originAllowed(None))
        self.assertTrue(Settings().originAllowed("anything"))

    def test_clientsOrderOfSubprotocolsWins(self) -> None:
        settings = Settings.build(subprotocols=["ours", "theirs"])
        self.assertEqual(settings.chooseSubprotocol(["theirs", "ours"]), "theirs")
        self.assertIsNone(settings.chooseSubprotocol(["other"]))

    def test_blocked(self) -> None:
        settings = Settings.build(blocked=["203.0.113.0/24"])
        self.assertTrue(settings.isBlocked("203.0.113.9"))
        self.assertFalse(settings.isBlocked("198.51.100.1"))
        self.assertFalse(settings.isBlocked("not an address"))

    def test_clientHostFromTrustedProxies(self) -> None:
        settings = Settings(trustedProxies=1)
        self.assertEqual(settings.clientHost("10.0.0.1", "198.51.100.7, 10.0.0.2"), "10.0.0.2")
        self.assertEqual(Settings(trustedProxies=2).clientHost("10.0.0.1", "1.2.3.4, 10.0.0.2"),
                         "1.2.3.4")
        self.assertEqual(settings.clientHost("10.0.0.1", "garbage"), "10.0.0.1")
        self.assertEqual(settings.clientHost("10.0.0.1", None), "10.0.0.1")
        self.assertEqual(Settings().clientHost("10.0.0.1", "1.2.3.4"), "10.0.0.1")
