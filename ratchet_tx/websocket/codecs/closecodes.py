"""
Close codes of RFC 6455 section 7.4 and the rules for which may be sent.
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    """Status codes a close frame may carry (RFC 6455 section 7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS = 1005  # never on the wire: "the close frame had no code"
    ABNORMAL = 1006  # never on the wire: "the connection dropped without a close"
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015  # never on the wire


#: Codes defined by the RFC and its registry that a peer may put on the wire.
SENDABLE_CODES = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)


def isValidWireCode(code: int) -> bool:
    """
    Whether C{code} may appear in a close frame received from a peer.

    Registered codes that are not reserved for local use, and the ranges
    3000-3999 (libraries, frameworks) and 4000-4999 (private use).
    """
    return code in SENDABLE_CODES or 3000 <= code <= 4999
