"""
Tests of L{ratchet_tx.transport}: the write-through TCP transport on real
loopback sockets, against Twisted's own transport as the reference.
"""
