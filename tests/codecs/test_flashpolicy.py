"""
Tests for L{ratchet_tx.websocket.codecs.flashpolicy}.
"""

from __future__ import annotations

from xml.etree import ElementTree

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.websocket.codecs.flashpolicy import (
    POLICY_REQUEST,
    Detection,
    FlashPolicy,
    detect,
)
from tests.codecs.test_handshake import (
    CHROME4_REQUEST,
    CHROME14_REQUEST,
    FIREFOX6_REQUEST,
    RFC6455_REQUEST,
    SAFARI5_REQUEST,
)

HANDSHAKES = [RFC6455_REQUEST, CHROME14_REQUEST, FIREFOX6_REQUEST, SAFARI5_REQUEST, CHROME4_REQUEST]


def decideAt(stream: bytes) -> tuple[Detection, int]:
    """
    Feed C{stream} one byte at a time, as a server would see it arrive.

    @return: the first decision other than INCOMPLETE and how many bytes it
        took.
    """
    for count in range(len(stream) + 1):
        found = detect(stream[:count])
        if found is not Detection.INCOMPLETE:
            return found, count
    return Detection.INCOMPLETE, len(stream)


class DetectTests(SynchronousTestCase):
    """
    L{detect} tells a policy request from anything else as early as it can.
    """

    def test_request(self) -> None:
        self.assertEqual(POLICY_REQUEST, b"<policy-file-request/>\x00")
        self.assertIs(detect(POLICY_REQUEST), Detection.REQUEST)
        self.assertIs(detect(POLICY_REQUEST + b"trailing"), Detection.REQUEST)

    def test_everyPrefixWaits(self) -> None:
        for count in range(len(POLICY_REQUEST)):
            self.assertIs(detect(POLICY_REQUEST[:count]), Detection.INCOMPLETE, count)

    def test_decidedAtTheLastByte(self) -> None:
        self.assertEqual(decideAt(POLICY_REQUEST), (Detection.REQUEST, 23))

    def test_withoutItsNul(self) -> None:
        """
        Flash sends the NUL; without it the bytes are still only a prefix.
        """
        self.assertIs(detect(POLICY_REQUEST[:-1]), Detection.INCOMPLETE)
        self.assertIs(detect(POLICY_REQUEST[:-1] + b"\n"), Detection.OTHER)

    def test_handshakesDecideAtOnce(self) -> None:
        """
        Every WebSocket handshake is "not a policy request" from its first
        byte: it is never held back.
        """
        for handshake in HANDSHAKES:
            self.assertEqual(decideAt(handshake), (Detection.OTHER, 1))

    @given(st.binary(max_size=40))
    def test_decidedAtTheFirstDifference(self, data: bytes) -> None:
        """
        Anything that is not the request is known as soon as one byte
        differs from it, whatever came before.
        """
        differs = next(
            (i for i, byte in enumerate(data[: len(POLICY_REQUEST)]) if byte != POLICY_REQUEST[i]),
            None,
        )
        found, count = decideAt(data)
        if differs is not None:
            self.assertEqual((found, count), (Detection.OTHER, differs + 1))
        elif len(data) >= len(POLICY_REQUEST):
            self.assertEqual((found, count), (Detection.REQUEST, len(POLICY_REQUEST)))
        else:
            self.assertIs(found, Detection.INCOMPLETE)

    @given(st.integers(0, 23), st.binary(max_size=10))
    def test_prefixThenJunk(self, keep: int, junk: bytes) -> None:
        data = POLICY_REQUEST[:keep] + b"!" + junk
        if keep < len(POLICY_REQUEST):
            self.assertIs(detect(data), Detection.OTHER)
        else:
            self.assertIs(detect(data), Detection.REQUEST)


class PolicyTests(SynchronousTestCase):
    """
    L{FlashPolicy.render} writes the cross-domain policy.
    """

    def test_default(self) -> None:
        """
        Every domain, to the ports given.
        """
        self.assertEqual(
            FlashPolicy(ports=(8080,)).render(),
            b'<?xml version="1.0"?>\n'
            b'<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/'
            b'cross-domain-policy.dtd">\n'
            b"<cross-domain-policy>\n"
            b'<allow-access-from domain="*" to-ports="8080"/>\n'
            b"</cross-domain-policy>\x00",
        )

    def test_configured(self) -> None:
        policy = FlashPolicy.build(
            [80, (8000, 8010)],
            domains=["example.com", "*.example.org", "192.0.2.1"],
            siteControl="master-only",
        )
        document = policy.render()
        self.assertTrue(document.endswith(b"\x00"))
        root = ElementTree.fromstring(document[:-1])
        self.assertEqual(root.tag, "cross-domain-policy")
        self.assertEqual(
            root.find("site-control").attrib,  # type: ignore[union-attr]
            {"permitted-cross-domain-policies": "master-only"},
        )
        self.assertEqual(
            [element.attrib for element in root.findall("allow-access-from")],
            [
                {"domain": domain, "to-ports": "80,8000-8010"}
                for domain in ("example.com", "*.example.org", "192.0.2.1")
            ],
        )

    def test_refused(self) -> None:
        for kwargs in [
            {"ports": ()},
            {"ports": (0,)},
            {"ports": (65536,)},
            {"ports": ((9000, 8000),)},
            {"ports": (80,), "domains": ('evil" to-ports="*',)},
            {"ports": (80,), "domains": ("<script>",)},
            {"ports": (80,), "domains": ("",)},
            {"ports": (80,), "siteControl": "by-content-type"},
        ]:
            self.assertRaises(ValueError, FlashPolicy, **kwargs)  # type: ignore[arg-type]

    @given(
        st.lists(
            st.one_of(
                st.integers(1, 65535),
                st.tuples(st.integers(1, 65535), st.integers(1, 65535)).map(sorted).map(tuple),
            ),
            min_size=1,
            max_size=5,
        )
    )
    def test_wellFormed(self, ports: list[int | tuple[int, int]]) -> None:
        root = ElementTree.fromstring(FlashPolicy.build(ports).render()[:-1])
        [allow] = root.findall("allow-access-from")
        self.assertEqual(len(allow.attrib["to-ports"].split(",")), len(ports))
