"""
The test suite's own C{redis-server} helper (L{tests.support.redisserver}):
it fails with the install line when the server is missing, restarts on the
same port, and leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from tests.support import redisserver
from tests.support.redisserver import INSTALL_HINT, RedisServer, RedisServerError


class RedisServerTests(SynchronousTestCase):
    def test_missingServerFailsWithTheInstallLine(self) -> None:
        self.patch(redisserver, "REDIS_SERVER", "/nonexistent/redis-server")
        empty = tempfile.mkdtemp()
        self.addCleanup(os.rmdir, empty)
        self.patch(os, "environ", {**os.environ, "PATH": empty})
        with self.assertRaises(RedisServerError) as caught:
            RedisServer.start()
        self.assertIsInstance(caught.exception, AssertionError)
        self.assertIn("apt-get install redis-server", str(caught.exception).splitlines())
        self.assertEqual(INSTALL_HINT, "apt-get install redis-server")

    def test_restartOnTheSamePortEmpty(self) -> None:
        server = RedisServer.start()
        self.addCleanup(server.stop)
        port = server.port
        server.command("SET", "k", "v")
        server.restart()
        self.assertEqual(server.port, port)
        self.assertTrue(server.running)
        self.assertIsNone(server.command("GET", "k"))
        self.assertIn("Ready to accept connections", server.log())

    def test_stopCleansUp(self) -> None:
        server = RedisServer.start(password="pw")
        socketPath = server.unixURL().split("//", 1)[1].split("@", 1)[1].split("?")[0]
        workdir = os.path.dirname(socketPath)
        self.assertTrue(os.path.isdir(workdir))
        server.stop()
        server.stop()
        self.assertFalse(server.running)
        self.assertFalse(os.path.exists(workdir))
        self.assertRaises(OSError, server.command, "PING")
        self.assertIn("redis://:pw@127.0.0.1:", server.url())

    def test_commandErrors(self) -> None:
        server = RedisServer.start()
        self.addCleanup(server.stop)
        with self.assertRaises(RedisServerError):
            server.command("NOSUCHCOMMAND")
