# -*- test-case-name: tests.hub.test_commands -*-
"""
Which hub the hub commands use when they do not name one: the process's.

A hub is a thing of the process -- one Redis subscription per channel per
process, one framing per message per process -- so, like the reactor, there
is one current hub, which C{twistd ratchet --hub} sets at startup
(L{useHub}).  Without one, the first command that needs it makes a
L{ratchet_tx.hub.LocalHub}.  A program that wants several hubs in one
process gives each command its own: C{Publish(channel, msg, hub=other)}.
"""

from __future__ import annotations

from ratchet_tx.hub.interfaces import IHub

_current: IHub | None = None


def currentHub() -> IHub:
    """The process's hub (a new L{ratchet_tx.hub.LocalHub} if none was set)."""
    global _current
    if _current is None:
        from ratchet_tx.hub.local import LocalHub

        _current = LocalHub()
    return _current


def useHub(hub: IHub | None) -> IHub | None:
    """
    Make C{hub} the process's hub (C{None}: back to a new local one when
    next needed).

    @return: the hub it replaces, if any (tests put it back).
    """
    global _current
    previous, _current = _current, hub
    return previous
