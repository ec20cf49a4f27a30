# -*- test-case-name: tests.codecs.test_flashpolicy -*-
"""
The Flash socket policy: how Hixie-era pages reached a WebSocket server
through web-socket-js (a Flash shim for browsers without WebSocket).

Theory of operation
===================

Before Flash Player lets a page open a socket to a host, it connects to that
host (port 843 first, then the socket's own port), sends the 23 bytes
L{POLICY_REQUEST} (C{<policy-file-request/>} and a NUL), and expects a
cross-domain policy document followed by a NUL; the server then closes.

L{detect} looks at the first bytes of a connection and says which it is::

    the bytes so far                        detect
    --------------------------------------  ----------
    all of POLICY_REQUEST (and maybe more)  REQUEST
    a proper prefix of it (b"", b"<po")     INCOMPLETE
    anything else                           OTHER

So a policy request is recognised at its 23rd byte, however it is split, and
anything else as soon as one byte differs: an HTTP request (a WebSocket
handshake) starts with a method's letter, never C{"<"}, so it is known to be
"not a policy request" from its first byte and is never delayed.

L{FlashPolicy} renders the document: by default, every domain may connect to
the given ports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

#: What Flash Player sends to ask for the policy.
POLICY_REQUEST = b"<policy-file-request/>\x00"

#: The values of C{site-control}'s C{permitted-cross-domain-policies} that
#: apply to socket policies.
SITE_CONTROLS = frozenset({"none", "master-only", "all"})

#: Every domain.
ANY_DOMAIN = "*"

_MIN_PORT = 1
_MAX_PORT = 65535
# A domain (possibly with a leading "*." wildcard), an IP address, or "*":
# no character that would need escaping in an XML attribute.
_DOMAIN = re.compile(r"\*|(?:\*\.)?[A-Za-z0-9\-.]+|\[?[0-9A-Fa-f:.]+\]?")
_TERMINATOR = b"\x00"


class Detection(Enum):
    """
    What the first bytes of a connection are, as far as L{detect} can tell.
    """

    REQUEST = "request"
    INCOMPLETE = "incomplete"
    OTHER = "other"


def detect(data: bytes) -> Detection:
    """
    Whether a connection that started with C{data} asks for the policy.

    @param data: every byte received so far (at most the first 23 matter).
    @return: L{Detection.REQUEST} once C{data} starts with L{POLICY_REQUEST},
        L{Detection.INCOMPLETE} while it is a proper prefix of it (wait for
        more), L{Detection.OTHER} as soon as it is neither.
    """
    if data.startswith(POLICY_REQUEST):
        return Detection.REQUEST
    if POLICY_REQUEST.startswith(data):
        return Detection.INCOMPLETE
    return Detection.OTHER


PortRange = tuple[int, int]


@dataclass(frozen=True, slots=True)
class FlashPolicy:
    """
    A cross-domain policy for sockets.

    @ivar ports: the ports a page may connect to: numbers, or
        C{(first, last)} ranges.
    @ivar domains: the domains whose pages may connect; C{"*"} is every
        one, C{"*.example.com"} a domain and its subdomains.
    @ivar siteControl: the C{permitted-cross-domain-policies} meta-policy
        (C{"none"}, C{"master-only"} or C{"all"}), or C{None} to write none
        (Flash then assumes C{"master-only"} for the port-843 policy).
    """

    ports: tuple[int | PortRange, ...]
    domains: tuple[str, ...] = (ANY_DOMAIN,)
    siteControl: str | None = None

    def __post_init__(self) -> None:
        if not self.ports:
            raise ValueError("a policy names at least one port")
        for port in self.ports:
            first, last = port if isinstance(port, tuple) else (port, port)
            if not _MIN_PORT <= first <= last <= _MAX_PORT:
                raise ValueError(f"invalid port or port range {port!r}")
        for domain in self.domains:
            if _DOMAIN.fullmatch(domain) is None:
                raise ValueError(f"invalid domain {domain!r}")
        if self.siteControl is not None and self.siteControl not in SITE_CONTROLS:
            raise ValueError(f"siteControl must be one of {sorted(SITE_CONTROLS)}")

    @classmethod
    def build(
        cls,
        ports: Iterable[int | PortRange],
        domains: Iterable[str] = (ANY_DOMAIN,),
        siteControl: str | None = None,
    ) -> FlashPolicy:
        """
        Build from any iterables (lists, generators).
        """
        return cls(tuple(ports), tuple(domains), siteControl)

    def render(self) -> bytes:
        """
        The answer to L{POLICY_REQUEST}: the XML document and its NUL.
        """
        toPorts = ",".join(
            f"{port[0]}-{port[1]}" if isinstance(port, tuple) else str(port)
            for port in self.ports
        )
        lines = [
            '<?xml version="1.0"?>',
            '<!DOCTYPE cross-domain-policy SYSTEM "http://www.adobe.com/xml/dtds/'
            'cross-domain-policy.dtd">',
            "<cross-domain-policy>",
        ]
        if self.siteControl is not None:
            lines.append(
                f'<site-control permitted-cross-domain-policies="{self.siteControl}"/>'
            )
        lines.extend(
            f'<allow-access-from domain="{domain}" to-ports="{toPorts}"/>'
            for domain in self.domains
        )
        lines.append("</cross-domain-policy>")
        return "\n".join(lines).encode("ascii") + _TERMINATOR
