"""
Property tests: the codecs fed random and mutated byte streams.

The targets and what they check are in L{fuzz.targets} (shared with the
long-running harness, C{python -m fuzz.run}): only L{HandshakeError} or
L{ProtocolError} may come out of L{RequestReader}/L{readOpening},
L{hybi.FrameDecoder} and L{hixie.HixieDecoder}, what comes out can be
answered, and every buffer stays bounded.  Here Hypothesis drives them,
starting from random bytes and from valid inputs mutated by bit flips,
truncations, splices, insertions, deletions and duplications, cut into
random reads; and checks that valid streams decode the same in any
chunking.

Each test runs L{EXAMPLES} examples (a few seconds in all); run the harness
for longer searches.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from fuzz.targets import (
    FRAME_SEEDS,
    HANDSHAKE_SEEDS,
    HIXIE_SEEDS,
    MAX_FRAME,
    MAX_HEAD,
    MAX_MESSAGE,
    MUTATIONS,
    RESPONSE_SEEDS,
    checkFrames,
    checkHandshake,
    checkHixie,
    checkResponse,
    clientFrame,
    mutate,
)
from ratchet_tx.websocket.codecs import hybi
from ratchet_tx.websocket.codecs.errors import ProtocolError
from ratchet_tx.websocket.codecs.events import Close, Ping
from tests.abuse.support import record

#: Examples per property ($RATCHET_FUZZ_EXAMPLES for a longer search).
EXAMPLES = int(os.environ.get("RATCHET_FUZZ_EXAMPLES", "400"))

fuzzSettings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ops = st.lists(
    st.tuples(st.sampled_from(MUTATIONS), st.integers(0, 1 << 16), st.integers(0, 1 << 16)),
    min_size=1,
    max_size=8,
)
cuts = st.lists(st.integers(0, 1 << 16), max_size=8)


def mutated(seeds: tuple[bytes, ...]) -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda seed, operations: mutate(seed, operations, seeds), st.sampled_from(seeds), ops
    )


class Counted:
    """Counts the examples each property ran, for the figures."""

    def setUp(self) -> None:
        self.examples = 0

    def tearDown(self) -> None:
        record(self.id(), examples=self.examples)


class HandshakeFuzzTests(Counted, SynchronousTestCase):
    @fuzzSettings
    @given(st.binary(max_size=MAX_HEAD + 200), cuts)
    def test_randomBytes(self, data: bytes, where: list[int]) -> None:
        self.examples += 1
        checkHandshake(data, where)

    @fuzzSettings
    @given(mutated(HANDSHAKE_SEEDS), cuts)
    def test_mutatedHandshakes(self, data: bytes, where: list[int]) -> None:
        self.examples += 1
        checkHandshake(data, where)

    @fuzzSettings
    @given(
        st.sampled_from(HANDSHAKE_SEEDS),
        st.lists(
            st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=80
        ),
        cuts,
    )
    def test_headerFloods(self, seed: bytes, extra: list[bytes], where: list[int]) -> None:
        """Valid handshakes with many odd header lines added: refused or read, no crash."""
        self.examples += 1
        head, _, rest = seed.partition(b"\r\n\r\n")
        lines = b"".join(b"X-" + line + b"\r\n" for line in extra)
        checkHandshake(head + b"\r\n" + lines + b"\r\n" + rest, where)

    @fuzzSettings
    @given(st.sampled_from(HANDSHAKE_SEEDS), cuts)
    def test_validInAnyChunking(self, seed: bytes, where: list[int]) -> None:
        self.examples += 1
        self.assertEqual(checkHandshake(seed, where), checkHandshake(seed))
        self.assertFalse(checkHandshake(seed).startswith("refused"))


class ResponseFuzzTests(Counted, SynchronousTestCase):
    """
    A client's L{ResponseReader} and L{ClientHandshake.validate} fed what a
    hostile server might send.
    """

    @fuzzSettings
    @given(st.binary(max_size=MAX_HEAD + 200), cuts)
    def test_randomBytes(self, data: bytes, where: list[int]) -> None:
        self.examples += 1
        checkResponse(data, where)

    @fuzzSettings
    @given(mutated(RESPONSE_SEEDS), cuts)
    def test_mutatedResponses(self, data: bytes, where: list[int]) -> None:
        self.examples += 1
        checkResponse(data, where)

    @fuzzSettings
    @given(st.sampled_from(RESPONSE_SEEDS), cuts)
    def test_validInAnyChunking(self, seed: bytes, where: list[int]) -> None:
        self.examples += 1
        self.assertEqual(checkResponse(seed, where), checkResponse(seed))
        # Each seed is some version's answer (or a refusal).
        self.assertTrue(set(checkResponse(seed)) - {"invalid", "incomplete"})


class HandshakeRegressionTests(SynchronousTestCase):
    """Inputs the fuzzers found, kept."""

    def test_absoluteTargetWithABadIPv6Literal(self) -> None:
        """
        An absolute-form target whose authority has an unbalanced "[" is a
        bad request (400), like any other malformed request line.
        """
        # Regression (found by atheris, fixed in d984c56): _splitTarget in
        # ratchet_tx/websocket/codecs/http.py let urllib.parse.urlsplit's
        # ValueError out of RequestReader.feed -- "Invalid IPv6 URL" for
        # "a://[", "http://[::1", "http://]", and "'x' does not appear to be
        # an IPv4 or IPv6 address" for "ws://[x]/" -- which the server logged
        # twice at critical level, with a traceback, per request, and
        # answered with nothing (tests.abuse.test_hostile.MalformedTargetTests).
        targets = (b"a://[", b"http://[::1", b"http://]/chat", b"ws://[::1/chat", b"ws://[x]/")
        for target in targets:
            request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n"
            self.assertEqual(checkHandshake(request), "refused 400", target)


@st.composite
def messages(draw) -> tuple[bytes, list]:
    """
    A valid stream of client frames, and the events it must decode to:
    messages of every size edge, fragmented or not, pings in between.
    """
    stream = []
    expected: list = []
    for _ in range(draw(st.integers(1, 6))):
        text = draw(st.booleans())
        if text:
            message = draw(st.text(max_size=MAX_MESSAGE // 4))
            payload = message.encode("utf-8")
        else:
            size = draw(st.sampled_from([0, 1, 125, 126, 127, 128, MAX_FRAME - 1, MAX_FRAME]))
            payload = message = draw(st.binary(min_size=size, max_size=size))
        pieces = draw(st.integers(1, 3))
        bounds = sorted(
            draw(st.lists(st.integers(0, len(payload)), min_size=pieces - 1, max_size=pieces - 1))
        )
        parts = [payload[a:b] for a, b in zip([0, *bounds], [*bounds, len(payload)], strict=True)]
        for index, part in enumerate(parts):
            opcode = (hybi.Opcode.TEXT if text else hybi.Opcode.BINARY) if index == 0 else 0
            stream.append(
                clientFrame(
                    opcode,
                    part,
                    fin=index == len(parts) - 1,
                    mask=draw(st.binary(min_size=4, max_size=4)),
                )
            )
            if draw(st.booleans()) and index < len(parts) - 1:
                stream.append(clientFrame(hybi.Opcode.PING, b"hi"))
                expected.append(Ping(b"hi"))
        expected.append(message)
    return b"".join(stream), expected


class FrameFuzzTests(Counted, SynchronousTestCase):
    @fuzzSettings
    @given(st.binary(max_size=2048), cuts, st.booleans())
    def test_randomBytes(self, data: bytes, where: list[int], masked: bool) -> None:
        self.examples += 1
        checkFrames(data, where, masked)

    @fuzzSettings
    @given(mutated(FRAME_SEEDS), cuts)
    def test_mutatedStreams(self, data: bytes, where: list[int]) -> None:
        self.examples += 1
        checkFrames(data, where)

    @fuzzSettings
    @given(messages(), cuts)
    def test_validStreamInAnyChunking(self, stream: tuple[bytes, list], where: list[int]) -> None:
        self.examples += 1
        data, expected = stream
        events = checkFrames(data, where)
        self.assertEqual([e for e in events if isinstance(e, ProtocolError)], [])
        self.assertEqual(events, expected)

    @fuzzSettings
    @given(messages(), st.integers(0, 1 << 16), st.integers(0, 7))
    def test_oneBitFlipped(self, stream: tuple[bytes, list], at: int, bit: int) -> None:
        """One flipped bit in a valid stream: decoded or refused, nothing else."""
        self.examples += 1
        data = bytearray(stream[0])
        data[at % len(data)] ^= 1 << bit
        checkFrames(bytes(data), [at])


class HixieFuzzTests(Counted, SynchronousTestCase):
    @fuzzSettings
    @given(st.binary(max_size=2048), cuts)
    def test_randomBytes(self, data: bytes, where: list[int]) -> None:
        self.examples += 1
        checkHixie(data, where)

    @fuzzSettings
    @given(mutated(HIXIE_SEEDS), cuts)
    def test_mutatedStreams(self, data: bytes, where: list[int]) -> None:
        self.examples += 1
        checkHixie(data, where)

    @fuzzSettings
    @given(
        st.lists(
            st.text(max_size=100).filter(lambda t: len(t.encode()) <= MAX_MESSAGE), max_size=8
        ),
        st.booleans(),
        cuts,
    )
    def test_validStreamInAnyChunking(
        self, texts: list[str], close: bool, where: list[int]
    ) -> None:
        self.examples += 1
        data = b"".join(b"\x00" + t.encode("utf-8") + b"\xff" for t in texts)
        if close:
            data += b"\xff\x00" + b"\x00ignored\xff"
        self.assertEqual(checkHixie(data, where), texts + ([Close()] if close else []))
