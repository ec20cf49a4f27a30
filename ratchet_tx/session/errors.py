# -*- test-case-name: tests.session.test_provider -*-
"""
What can go wrong when a session is read.

Two kinds, answered differently by L{ratchet_tx.session.SessionProvider}:

  - L{InvalidSession}: the cookie, or what the store holds under it, is not a
    valid session (tampered, expired, garbage, another framework's format,
    over a limit).  The client gets no session (401 when one is required).
  - L{SessionUnavailable}: the store could not be asked (down, too slow).
    The client gets an empty session, or 503 when one is required.

Pure decoders raise only L{InvalidSession} and its subclasses.
"""

from __future__ import annotations


class InvalidSession(Exception):
    """
    Not a valid session.

    @ivar reason: a short description, fit for a log line (never the
        cookie's or the session's content).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadSignature(InvalidSession):
    """The signature does not match the value under any of the keys."""


class SessionExpired(InvalidSession):
    """The signature is good but older than the framework's maximum age."""


class MalformedSession(InvalidSession):
    """
    The data is not in the format expected, or is beyond a L{Limits} bound.
    """


class SessionUnavailable(Exception):
    """The session store could not be reached, or did not answer in time."""
