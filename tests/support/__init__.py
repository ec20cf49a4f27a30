"""
Helpers shared by the test suite: fake applications and connections for unit
tests (L{tests.support.apps}) and a real C{twistd ratchet} process for
integration tests (L{tests.support.twistd}), and the Debian packages tests
need (L{tests.support.system}).
"""
