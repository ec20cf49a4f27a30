"""
Integration tests: a real C{twistd ratchet} process on a loopback port, talked
to over real sockets.
"""
