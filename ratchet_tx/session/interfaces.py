# -*- test-case-name: tests.session.test_interfaces -*-
"""
What a session store is, for L{ratchet_tx.session.SessionProvider}.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface


class ISessionStore(Interface):
    """
    Where a web site keeps its sessions, and how to read one given the
    session cookie: the cookie itself (signed-cookie sessions), or a
    database, cache or key-value store the cookie names a key of.
    """

    cookieName = Attribute(
        "C{str}: the name of the cookie the framework keeps its session in "
        "by default (C{PHPSESSID}, C{sessionid}, C{session}, ...)."
    )

    def load(cookieValue):
        """
        Read the session that C{cookieValue} (the cookie's value, a C{str})
        identifies.  Never blocks the reactor: waiting on a network or a
        database happens outside it, and decoding is bounded.

        @return: a L{twisted.internet.defer.Deferred} that fires with the
            session's data as a mapping, or with C{None} when the store
            holds no session under that cookie (unknown or expired); or
            fails with L{ratchet_tx.session.errors.InvalidSession} when the
            cookie, or what is stored under it, is not a valid session
            (tampered, expired signature, garbage, another format, over a
            limit); or fails with anything else
            (L{ratchet_tx.session.errors.SessionUnavailable} preferably)
            when the store cannot be reached.  Cancelling it abandons the
            lookup.
        """
