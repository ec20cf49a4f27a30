"""
The C{twistd ratchet} command.

Kept tiny on purpose: Twisted imports every plugin module whenever it lists
plugins, so this module imports nothing of ratchet_tx (and never the reactor);
L{ratchet_tx.tap} is loaded only when C{twistd ratchet} actually runs.
"""

from twisted.application.service import ServiceMaker

ratchet = ServiceMaker(
    "ratchet",
    "ratchet_tx.tap",
    "Serve a ratchet_tx socket application over WebSocket or plain TCP.",
    "ratchet",
)
