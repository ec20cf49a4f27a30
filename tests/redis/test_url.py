"""
Redis URLs: every form the client accepts, the clear errors for the others,
and a password that never shows.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from ratchet_tx.redis.url import DEFAULT_PORT, RedisAddress, parseRedisURL

SECRET = "s3cr3t-p@ss:word"


class ParseTests(SynchronousTestCase):
    def test_forms(self) -> None:
        cases = {
            "redis://": RedisAddress(host="localhost", port=DEFAULT_PORT),
            "redis://example.com": RedisAddress(host="example.com", port=6379),
            "REDIS://h:6380": RedisAddress(host="h", port=6380),
            "redis://h:6380/": RedisAddress(host="h", port=6380),
            "redis://h/3": RedisAddress(host="h", port=6379, db=3),
            "redis://h?db=4": RedisAddress(host="h", port=6379, db=4),
            "redis://h/4?db=4": RedisAddress(host="h", port=6379, db=4),
            "redis://127.0.0.1:1/15": RedisAddress(host="127.0.0.1", port=1, db=15),
            "redis://[::1]": RedisAddress(host="::1", port=6379),
            "redis://[::1]:6390/2": RedisAddress(host="::1", port=6390, db=2),
            "redis://[2001:DB8::1]:7000": RedisAddress(host="2001:db8::1", port=7000),
            "redis://:pw@h": RedisAddress(host="h", port=6379, password="pw"),
            "redis://alice:pw@h:1/2": RedisAddress(
                host="h", port=1, db=2, username="alice", password="pw"
            ),
            "redis://al%40ice:p%40ss%3Aword@h": RedisAddress(
                host="h", port=6379, username="al@ice", password="p@ss:word"
            ),
            "unix:///run/redis/redis.sock": RedisAddress(path="/run/redis/redis.sock"),
            "unix:///tmp/r.sock?db=5": RedisAddress(path="/tmp/r.sock", db=5),
            "unix://:pw@/tmp/r.sock": RedisAddress(path="/tmp/r.sock", password="pw"),
            "unix://bob:pw@/tmp/r%20s.sock": RedisAddress(
                path="/tmp/r s.sock", username="bob", password="pw"
            ),
        }
        for url, expected in cases.items():
            with self.subTest(url=url):
                self.assertEqual(parseRedisURL(url), expected)

    def assertInvalid(self, url: str, problem: str) -> None:
        with self.assertRaises(ValueError) as caught:
            parseRedisURL(url)
        message = str(caught.exception)
        self.assertIn(problem, message)
        self.assertIn("expected redis://", message)
        self.assertNotIn(SECRET, message)

    def test_invalid(self) -> None:
        cases = {
            "localhost:6379": "no scheme",
            "http://h": "unknown scheme 'http'",
            "rediss://h": "TLS) is not supported",
            "redis://h:0": "port must be a number from 1 to 65535",
            "redis://h:65536": "port must be",
            "redis://h:x": "port must be",
            "redis://h:-1": "port must be",
            "redis://h/x": "database in the path must be a number",
            "redis://h/-1": "database in the path",
            "redis://h/1/2": "database in the path",
            "redis://h?db=x": "database in ?db= must be a number",
            "redis://h?db=1&db=1": "db given twice",
            "redis://h/1?db=2": "db given twice",
            "redis://h?timeout=1": "unknown option 'timeout'",
            "redis://h#frag": "a fragment",
            "redis://::1": "IPv6 address must be in brackets",
            "redis://[::1": "IPv6",
            "redis://[not-v6]:1": "IPv6 address",
            f"redis://:{SECRET}@[bad]:1": "IPv6 address",
            "redis://[::1]x": "after the ]",
            "redis://alice@h": "a user without a password",
            f"redis://alice:{SECRET}@h:99999": "port must be",
            f"redis://:{SECRET}@h/x": "database",
            "redis://:@h": "an empty password",
            "redis://ho st": "invalid host name",
            "unix://h/tmp/s": "a host in a unix:// URL",
            "unix://": "no socket path",
            "unix:///": "no socket path",
            "unix:///s?db=-1": "database in ?db=",
        }
        for url, problem in cases.items():
            with self.subTest(url=url):
                self.assertInvalid(url, problem)

    def test_notAString(self) -> None:
        self.assertRaises(TypeError, parseRedisURL, b"redis://h")


class PasswordHiddenTests(SynchronousTestCase):
    def test_strAndRepr(self) -> None:
        for url, shown in [
            (f"redis://:{SECRET}@h:1/2", "redis://:***@h:1/2"),
            (f"redis://al%40ice:{SECRET}@[::1]", "redis://al%40ice:***@[::1]:6379/0"),
            (f"unix://:{SECRET}@/tmp/s?db=3", "unix://:***@/tmp/s?db=3"),
            ("redis://h", "redis://h:6379/0"),
            ("unix:///tmp/s", "unix:///tmp/s"),
        ]:
            with self.subTest(url=url):
                address = parseRedisURL(url)
                self.assertEqual(str(address), shown)
                self.assertEqual(repr(address), f"<RedisAddress {shown}>")
                self.assertNotIn(SECRET, repr(address) + str(address))

    def test_passwordStillThere(self) -> None:
        self.assertEqual(parseRedisURL(f"redis://u:{SECRET}@h").password, SECRET)

    def test_strParsesBackWithoutThePassword(self) -> None:
        for url in ["redis://[::1]:7/3", "unix:///tmp/s?db=2", "redis://h:1/0"]:
            address = parseRedisURL(url)
            self.assertEqual(parseRedisURL(str(address)), address)
