# -*- test-case-name: tests.codecs.test_deflate -*-
"""
permessage-deflate (RFC 7692): negotiation and per-message compression.

Theory of operation
===================

A client offers the extension in C{Sec-WebSocket-Extensions}, possibly several
times with different parameters, in order of preference::

    Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits,
        permessage-deflate

L{parseExtensions} turns the header into C{(name, parameters)} pairs and
drops any element that breaks the grammar of RFC 6455 section 9.1 (a bad
element is declined, never answered with 400: the connection simply goes on
without that extension).  L{negotiate} takes the first offer it can accept
under a L{DeflatePolicy} and returns the response value together with a
configured L{PerMessageDeflate}; an offer is declined, and the next one
tried, when RFC 7692 section 7.1 says a server MUST decline it (an unknown
or repeated parameter, a bad value) or when the policy cannot be honoured.
How each offered parameter is answered::

    offered                          answer and effect
    -------------------------------  -----------------------------------------
    server_no_context_takeover       echoed; we reset our compressor per
                                     message (also sent, unasked, when the
                                     policy says serverNoContextTakeover)
    client_no_context_takeover       echoed (also sent, unasked, when the
                                     policy says clientNoContextTakeover); the
                                     client resets its compressor, so we drop
                                     our decompressor between messages
    server_max_window_bits=N         server_max_window_bits=min(N, policy);
                                     also sent, unasked, when the policy's
                                     window is under 15
    client_max_window_bits[=N]       client_max_window_bits=min(N or 15,
                                     policy) when that is under 15
    no client_max_window_bits        declined if the policy's client window
                                     is under 15: the client could not be told

A client does the other half.  L{renderOffer} writes its single offer from
the same L{DeflatePolicy}, whose fields name the RFC's parameters and so mean
the same on both sides (C{serverMaxWindowBits} is the largest window the
server may compress with, whichever side sets it).  L{acceptResponse} checks
the server's answer against it (RFC 7692 sections 7.1.1 and 7.1.2) and fails
the handshake with L{InvalidHandshakeResponse} when the answer has a
parameter the RFC does not define for a response, a bad or repeated value, or
a configuration the offer did not allow::

    offered (policy)                 the answer must, and then
    -------------------------------  -----------------------------------------
    server_no_context_takeover       echo it; the server resets its
                                     compressor, we drop our decompressor
                                     between messages
    client_no_context_takeover       (a hint) we reset our compressor per
                                     message, whatever the answer says
    server_max_window_bits=N         carry server_max_window_bits=M, M <= N
    client_max_window_bits[=N]       always offered (we can compress with any
                                     window); M <= N if N was given, and we
                                     compress with M (or N, or 15 if absent)

The agreed L{PerMessageDeflate} of a client sends with the C{client_*}
parameters and receives with the C{server_*} ones.

Once agreed, a message is compressed (RFC 7692 section 7.2.1) as a raw
DEFLATE stream flushed with C{Z_SYNC_FLUSH}, whose final four bytes
C{00 00 ff ff} are dropped; the first frame of the message carries RSV1.  The
receiver appends the four bytes back and inflates.  Without "no context
takeover", both ends keep their LZ77 window from one message to the next;
with it, each message is compressed on its own, so one compressed frame
serves every receiver with the same parameters (see
L{PerMessageDeflate.sharedKey}).

Bounds: inflation is the classic amplification attack (a few kilobytes of
DEFLATE can expand to gigabytes), so L{PerMessageDeflate.decompress} never
produces more than the caller's limit plus one byte, whatever it is fed.

Memory: a zlib compressor costs about C{2 ** (windowBits + 2) +
2 ** (memLevel + 9)} bytes, a decompressor about C{2 ** windowBits} plus
7 KiB.  Measured with tracemalloc per connection after one message each way:
301 KiB with context takeover at 15 bits and memLevel 8 (262 KiB compressor,
39 KiB decompressor), 49 KiB at 12 bits and memLevel 5, 17 KiB at 9 bits and
memLevel 1, and nothing with no context takeover both ways.  Both objects are
created on the first compressed message that needs them, and with "no
context takeover" in a direction that direction's object is freed after each
message, so an idle connection holds nothing there (at the price of setting
up a compressor per message sent: 15 us against 8 us for a 230-byte message).

Two zlib constraints shape the choices:

    - zlib refuses an 8-bit window for raw DEFLATE compression (since
      1.2.9).  When C{server_max_window_bits=8} is agreed we compress with
      a 9-bit window: zlib's deflate never emits a distance over the window
      size minus 262 bytes (its C{MIN_LOOKAHEAD}), 250 for a 9-bit window,
      so its output fits the 256-byte window the peer inflates with.  The
      tests check it against zlib inflating with an 8-bit window, where a
      10-bit window's output fails.  (Python's websockets and autobahn
      refuse 8 instead.)
    - A peer may end a message with a DEFLATE block that has BFINAL set
      (RFC 7692 section 7.2.3.4).  That ends the zlib stream; the next
      message then starts a new one with no history, and whatever follows
      the final block must be the start of the empty stored block the
      sender appends (section 7.2.1), else the message fails with 1007.

Corrupt compressed data fails the connection with 1007 (invalid frame payload
data): RFC 7692 names no code, and 1007 is the one RFC 6455 gives for a
payload inconsistent with its message.  A message inflating past the limit
fails with 1009.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from ratchet_tx.websocket.codecs.closecodes import CloseCode
from ratchet_tx.websocket.codecs.errors import InvalidHandshakeResponse, ProtocolError
from ratchet_tx.websocket.codecs.handshake import splitList

#: The extension's name in C{Sec-WebSocket-Extensions}.
EXTENSION_NAME = "permessage-deflate"

SERVER_NO_CONTEXT_TAKEOVER = "server_no_context_takeover"
CLIENT_NO_CONTEXT_TAKEOVER = "client_no_context_takeover"
SERVER_MAX_WINDOW_BITS = "server_max_window_bits"
CLIENT_MAX_WINDOW_BITS = "client_max_window_bits"

#: The window sizes RFC 7692 allows, as base-2 logarithms.
MIN_WINDOW_BITS = 8
MAX_WINDOW_BITS = 15
#: The smallest window zlib compresses raw DEFLATE with (see the module
#: docstring for why it also serves an 8-bit window).
_MIN_COMPRESS_WINDOW_BITS = 9

#: zlib's memLevel range; higher is faster and compresses better, and costs
#: C{2 ** (memLevel + 9)} bytes of the compressor's memory.
MIN_MEM_LEVEL = 1
MAX_MEM_LEVEL = 9
DEFAULT_MEM_LEVEL = 8

#: zlib's compression levels, and the default here: level 1 compresses
#: a stream of small JSON chat messages to 37% of their size at 8.5 us a
#: message, level 6 (zlib's default) to 30% at 14 us, and a 650 KB blob at
#: 133 MB/s against 36 MB/s (measured with zlib 1.2.13).
MIN_COMPRESS_LEVEL = 0
MAX_COMPRESS_LEVEL = 9
DEFAULT_COMPRESS_LEVEL = 1

#: Messages shorter than this are sent uncompressed: without context
#: takeover they would not shrink (a 32-byte JSON message compresses to 29
#: bytes, shorter ones grow), and with it the saving is at most a couple of
#: dozen bytes, less than a TCP/IP header, for the cost of a compression call.
DEFAULT_MIN_SIZE = 32

#: What the sender strips from the end of every compressed message and the
#: receiver appends back: the end of the empty stored block that
#: C{Z_SYNC_FLUSH} emits.
_TAIL = b"\x00\x00\xff\xff"
_TAIL_SIZE = len(_TAIL)
#: The first byte of the empty stored block a sender appends after a block
#: with BFINAL set, before stripping L{_TAIL} (RFC 7692 section 7.2.3.4).
_STORED_BLOCK_START = b"\x00"

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN_RE = re.compile(_TOKEN)
_NAME_RE = re.compile(rf"({_TOKEN})[ \t]*")
# A quoted string's content: visible characters, spaces and tabs, with
# backslash escapes (RFC 7230 section 3.2.6).
_QUOTED = r'"((?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[^\x00-\x08\x0a-\x1f\x7f])*)"'
_PARAM_RE = re.compile(rf";[ \t]*({_TOKEN})(?:[ \t]*=[ \t]*(?:({_TOKEN})|{_QUOTED}))?[ \t]*")
_QUOTED_PAIR_RE = re.compile(r"\\(.)")
#: A window size in an offer: 8 to 15, without leading zeros.
_WINDOW_BITS_RE = re.compile(r"8|9|1[0-5]")

Offer = tuple[str, dict[str, str | None]]


def parseExtensions(values: Iterable[str]) -> list[Offer]:
    """
    Parse C{Sec-WebSocket-Extensions} values (RFC 6455 section 9.1).

    @param values: header values, or elements of them such as
        L{Opening.extensions<ratchet_tx.websocket.codecs.handshake.Opening>}:
        comma-separated lists of C{name *(; param[=value])} where a value is
        a token or a quoted string.
    @return: one C{(name, parameters)} pair per well-formed element, in
        order, with names lowercased and quoted values unescaped; a
        parameter without a value maps to C{None}.  An element that breaks
        the grammar, whose quoted value is not a token once unescaped, or
        that repeats a parameter is left out: no extension we know allows
        a parameter twice, and a server must decline what it cannot parse,
        not fail the handshake.
    """
    offers: list[Offer] = []
    for value in values:
        for element in splitList(value):
            offer = parseElement(element)
            if offer is not None:
                offers.append(offer)
    return offers


def parseElement(element: str) -> Offer | None:
    """
    Parse one element of a C{Sec-WebSocket-Extensions} list.

    @param element: one element, as L{splitList} cuts them.
    @return: its C{(name, parameters)} as in L{parseExtensions}, or C{None}
        if it is malformed or repeats a parameter.
    """
    match = _NAME_RE.match(element)
    if match is None:
        return None
    name = match.group(1).lower()
    params: dict[str, str | None] = {}
    pos = match.end()
    end = len(element)
    while pos < end:
        match = _PARAM_RE.match(element, pos)
        if match is None:
            return None
        key, token, quoted = match.groups()
        key = key.lower()
        if key in params:
            return None
        if quoted is not None:
            token = _QUOTED_PAIR_RE.sub(r"\1", quoted)
            if _TOKEN_RE.fullmatch(token) is None:
                return None
        params[key] = token
        pos = match.end()
    return name, params


@dataclass(frozen=True, slots=True)
class DeflatePolicy:
    """
    What a server is willing to agree to for permessage-deflate, or what a
    client offers (L{renderOffer}) and accepts (L{acceptResponse}).

    The fields are named after the RFC's parameters, which name the side
    that compresses, so they mean the same to a client: C{serverMaxWindowBits}
    under 15 asks the server to compress with at most that window, and
    C{clientMaxWindowBits} is the largest window the client compresses with.
    The descriptions below are the server's reading.

    @ivar enabled: whether to accept the extension at all.
    @ivar serverNoContextTakeover: compress each message on its own even if
        the client does not ask for it: costs compression ratio, saves the
        compressor's memory between messages and lets a broadcast be
        compressed once for all such receivers.
    @ivar clientNoContextTakeover: require the client to compress each
        message on its own, so that our decompressor is freed between
        messages.
    @ivar serverMaxWindowBits: the largest LZ77 window we compress with,
        8 to 15 (8 is served with zlib's 9, see the module docstring).
    @ivar clientMaxWindowBits: the largest window we let the client use,
        hence the size of our decompressor's window, 9 to 15.  Under 15, an
        offer without C{client_max_window_bits} is declined.  Not 8: a
        client built on zlib cannot compress with an 8-bit window, and some
        (Python's websockets) fail the handshake when asked to; a client
        that offers C{client_max_window_bits=8} itself gets it.
    @ivar minSize: messages shorter than this many bytes are sent
        uncompressed.
    @ivar memLevel: zlib's memLevel for compression, 1 to 9.
    @ivar compressLevel: zlib's compression level, 0 to 9.
    """

    enabled: bool = True
    serverNoContextTakeover: bool = False
    clientNoContextTakeover: bool = False
    serverMaxWindowBits: int = MAX_WINDOW_BITS
    clientMaxWindowBits: int = MAX_WINDOW_BITS
    minSize: int = DEFAULT_MIN_SIZE
    memLevel: int = DEFAULT_MEM_LEVEL
    compressLevel: int = DEFAULT_COMPRESS_LEVEL

    def __post_init__(self) -> None:
        _checkWindowBits("serverMaxWindowBits", self.serverMaxWindowBits)
        _checkRange(
            "clientMaxWindowBits",
            self.clientMaxWindowBits,
            _MIN_COMPRESS_WINDOW_BITS,
            MAX_WINDOW_BITS,
        )
        _checkRange("memLevel", self.memLevel, MIN_MEM_LEVEL, MAX_MEM_LEVEL)
        _checkRange("compressLevel", self.compressLevel, MIN_COMPRESS_LEVEL, MAX_COMPRESS_LEVEL)
        _checkMinSize(self.minSize)


def _checkRange(name: str, value: object, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{name} must be an int from {low} to {high}, not {value!r}")


def _checkWindowBits(name: str, value: object) -> None:
    _checkRange(name, value, MIN_WINDOW_BITS, MAX_WINDOW_BITS)


def _checkMinSize(value: object) -> None:
    if type(value) is not int or value < 0:
        raise ValueError(f"minSize must be an int of 0 or more, not {value!r}")


def deflatedSizeBound(size: int) -> int:
    """
    A bound on the size of C{size} bytes once deflated by any reasonable
    peer: incompressible data grows by stored- or Huffman-block overhead, a
    fraction of a percent.
    """
    return size + (size >> 8) + 64


def negotiate(
    offers: Iterable[Offer], policy: DeflatePolicy
) -> tuple[str, PerMessageDeflate] | None:
    """
    Accept the first permessage-deflate offer that C{policy} allows.

    @param offers: the client's offers, from L{parseExtensions}; other
        extensions among them are skipped.
    @param policy: what we agree to.
    @return: the C{Sec-WebSocket-Extensions} value to answer with and the
        connection's L{PerMessageDeflate} (server side), or C{None} when
        the policy is disabled or no offer is acceptable: then answer
        without the header and do not compress.
    """
    if not policy.enabled:
        return None
    for name, params in offers:
        if name == EXTENSION_NAME:
            accepted = _accept(params, policy)
            if accepted is not None:
                return accepted
    return None


def _accept(
    params: dict[str, str | None], policy: DeflatePolicy
) -> tuple[str, PerMessageDeflate] | None:
    """
    Answer one offer, or return C{None} to decline it.
    """
    serverNoContextTakeover = policy.serverNoContextTakeover
    clientNoContextTakeover = policy.clientNoContextTakeover
    serverBits = policy.serverMaxWindowBits
    clientBits = policy.clientMaxWindowBits
    announceServerBits = serverBits < MAX_WINDOW_BITS
    announceClientBits = False
    clientBitsOffered = False
    for key, value in params.items():
        if key == SERVER_NO_CONTEXT_TAKEOVER or key == CLIENT_NO_CONTEXT_TAKEOVER:
            if value is not None:
                return None
            if key == SERVER_NO_CONTEXT_TAKEOVER:
                serverNoContextTakeover = True
            else:
                clientNoContextTakeover = True
        elif key == SERVER_MAX_WINDOW_BITS:
            if value is None or _WINDOW_BITS_RE.fullmatch(value) is None:
                return None
            serverBits = min(serverBits, int(value))
            announceServerBits = True
        elif key == CLIENT_MAX_WINDOW_BITS:
            if value is not None:
                if _WINDOW_BITS_RE.fullmatch(value) is None:
                    return None
                clientBits = min(clientBits, int(value))
            clientBitsOffered = True
            announceClientBits = clientBits < MAX_WINDOW_BITS
        else:
            return None
    if clientBits < MAX_WINDOW_BITS and not clientBitsOffered:
        return None

    response = [EXTENSION_NAME]
    if serverNoContextTakeover:
        response.append(SERVER_NO_CONTEXT_TAKEOVER)
    if clientNoContextTakeover:
        response.append(CLIENT_NO_CONTEXT_TAKEOVER)
    if announceServerBits:
        response.append(f"{SERVER_MAX_WINDOW_BITS}={serverBits}")
    if announceClientBits:
        response.append(f"{CLIENT_MAX_WINDOW_BITS}={clientBits}")
    deflate = PerMessageDeflate.agreed(
        policy,
        sendNoContextTakeover=serverNoContextTakeover,
        sendWindowBits=serverBits,
        receiveNoContextTakeover=clientNoContextTakeover,
        receiveWindowBits=clientBits,
    )
    return "; ".join(response), deflate


def renderOffer(policy: DeflatePolicy) -> str | None:
    """
    A client's C{Sec-WebSocket-Extensions} offer for C{policy}.

    One offer: the parameters the policy asks of the server, then
    C{client_max_window_bits}, bare (the server may pick any window: we
    compress with what it says) or with C{policy.clientMaxWindowBits} when
    that is under 15.

    @param policy: what the client asks for and accepts.
    @return: the header value, or C{None} if the policy is disabled.
    """
    if not policy.enabled:
        return None
    offer = [EXTENSION_NAME]
    if policy.serverNoContextTakeover:
        offer.append(SERVER_NO_CONTEXT_TAKEOVER)
    if policy.clientNoContextTakeover:
        offer.append(CLIENT_NO_CONTEXT_TAKEOVER)
    if policy.serverMaxWindowBits < MAX_WINDOW_BITS:
        offer.append(f"{SERVER_MAX_WINDOW_BITS}={policy.serverMaxWindowBits}")
    if policy.clientMaxWindowBits < MAX_WINDOW_BITS:
        offer.append(f"{CLIENT_MAX_WINDOW_BITS}={policy.clientMaxWindowBits}")
    else:
        offer.append(CLIENT_MAX_WINDOW_BITS)
    return "; ".join(offer)


def acceptResponse(params: dict[str, str | None], policy: DeflatePolicy) -> PerMessageDeflate:
    """
    Check the server's answer to the offer L{renderOffer} made for
    C{policy}, and configure the client's side of the extension.

    @param params: the parameters of the answer's C{permessage-deflate}
        element, from L{parseElement}.
    @param policy: the policy the offer was made from.
    @return: the client's L{PerMessageDeflate}: it compresses with the
        C{client_*} parameters and inflates with the C{server_*} ones.
    @raise InvalidHandshakeResponse: the answer breaks RFC 7692 section 7.1
        or does not fit the offer (see the module docstring).
    """
    serverNoContextTakeover = False
    clientNoContextTakeover = policy.clientNoContextTakeover
    serverBits: int | None = None
    clientBits = policy.clientMaxWindowBits
    for key, value in params.items():
        if key == SERVER_NO_CONTEXT_TAKEOVER or key == CLIENT_NO_CONTEXT_TAKEOVER:
            if value is not None:
                raise _refused(f"{key} takes no value")
            if key == SERVER_NO_CONTEXT_TAKEOVER:
                serverNoContextTakeover = True
            else:
                clientNoContextTakeover = True
        elif key == SERVER_MAX_WINDOW_BITS or key == CLIENT_MAX_WINDOW_BITS:
            if value is None or _WINDOW_BITS_RE.fullmatch(value) is None:
                raise _refused(f"{key} must be 8 to 15, not {value!r}")
            bits = int(value)
            if key == SERVER_MAX_WINDOW_BITS:
                if bits > policy.serverMaxWindowBits:
                    raise _refused(
                        f"{key}={bits} is over the {policy.serverMaxWindowBits} offered"
                    )
                serverBits = bits
            else:
                if bits > policy.clientMaxWindowBits:
                    raise _refused(
                        f"{key}={bits} is over the {policy.clientMaxWindowBits} offered"
                    )
                clientBits = bits
        else:
            raise _refused(f"unknown parameter {key!r}")
    if policy.serverNoContextTakeover and not serverNoContextTakeover:
        raise _refused(f"{SERVER_NO_CONTEXT_TAKEOVER} was offered and not answered")
    if serverBits is None:
        if policy.serverMaxWindowBits < MAX_WINDOW_BITS:
            raise _refused(f"{SERVER_MAX_WINDOW_BITS} was offered and not answered")
        serverBits = MAX_WINDOW_BITS
    return PerMessageDeflate.agreed(
        policy,
        sendNoContextTakeover=clientNoContextTakeover,
        sendWindowBits=clientBits,
        receiveNoContextTakeover=serverNoContextTakeover,
        receiveWindowBits=serverBits,
    )


def _refused(reason: str) -> InvalidHandshakeResponse:
    return InvalidHandshakeResponse(f"{EXTENSION_NAME}: {reason}")


def _tooBig(limit: int) -> ProtocolError:
    return ProtocolError(
        CloseCode.MESSAGE_TOO_BIG, f"compressed message too big: over {limit} more bytes inflated"
    )


def _corrupt(reason: str) -> ProtocolError:
    return ProtocolError(CloseCode.INVALID_PAYLOAD, reason)


class PerMessageDeflate:
    """
    The agreed permessage-deflate of one connection: compress what we send,
    inflate what we receive.

    The parameters are named by direction, not by role, so the same class
    serves a client (whose "send" parameters are the RFC's C{client_*}) as
    well as a server (whose "send" parameters are the C{server_*} ones).

    @ivar sendWindowBits: the agreed window of what we send, 8 to 15.
    @ivar sendNoContextTakeover: whether each message we send is compressed
        on its own.
    @ivar receiveWindowBits: the agreed window of what we receive, 8 to 15.
    @ivar receiveNoContextTakeover: whether the peer compresses each message
        on its own.
    @ivar minSize: messages shorter than this are sent uncompressed (see
        L{ratchet_tx.websocket.codecs.hybi.encodeMessage}).
    @ivar memLevel: zlib's memLevel for compression.
    @ivar compressLevel: zlib's compression level.
    """

    __slots__ = (
        "sendWindowBits",
        "sendNoContextTakeover",
        "receiveWindowBits",
        "receiveNoContextTakeover",
        "minSize",
        "memLevel",
        "compressLevel",
        "_compressWbits",
        "_compressor",
        "_decompressor",
    )

    def __init__(
        self,
        *,
        sendWindowBits: int = MAX_WINDOW_BITS,
        sendNoContextTakeover: bool = False,
        receiveWindowBits: int = MAX_WINDOW_BITS,
        receiveNoContextTakeover: bool = False,
        minSize: int = DEFAULT_MIN_SIZE,
        memLevel: int = DEFAULT_MEM_LEVEL,
        compressLevel: int = DEFAULT_COMPRESS_LEVEL,
    ) -> None:
        _checkWindowBits("sendWindowBits", sendWindowBits)
        _checkWindowBits("receiveWindowBits", receiveWindowBits)
        _checkRange("memLevel", memLevel, MIN_MEM_LEVEL, MAX_MEM_LEVEL)
        _checkRange("compressLevel", compressLevel, MIN_COMPRESS_LEVEL, MAX_COMPRESS_LEVEL)
        _checkMinSize(minSize)
        self.sendWindowBits = sendWindowBits
        self.sendNoContextTakeover = sendNoContextTakeover
        self.receiveWindowBits = receiveWindowBits
        self.receiveNoContextTakeover = receiveNoContextTakeover
        self.minSize = minSize
        self.memLevel = memLevel
        self.compressLevel = compressLevel
        self._compressWbits = -max(sendWindowBits, _MIN_COMPRESS_WINDOW_BITS)
        self._compressor: zlib._Compress | None = None
        self._decompressor: zlib._Decompress | None = None

    @classmethod
    def agreed(
        cls,
        policy: DeflatePolicy,
        *,
        sendNoContextTakeover: bool,
        sendWindowBits: int,
        receiveNoContextTakeover: bool,
        receiveWindowBits: int,
    ) -> PerMessageDeflate:
        """
        The extension as negotiated, with the compression settings of
        C{policy} (its C{minSize}, C{memLevel} and C{compressLevel}).
        """
        return cls(
            sendNoContextTakeover=sendNoContextTakeover,
            sendWindowBits=sendWindowBits,
            receiveNoContextTakeover=receiveNoContextTakeover,
            receiveWindowBits=receiveWindowBits,
            minSize=policy.minSize,
            memLevel=policy.memLevel,
            compressLevel=policy.compressLevel,
        )

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate(sendWindowBits={self.sendWindowBits}, "
            f"sendNoContextTakeover={self.sendNoContextTakeover}, "
            f"receiveWindowBits={self.receiveWindowBits}, "
            f"receiveNoContextTakeover={self.receiveNoContextTakeover})"
        )

    @property
    def sharedKey(self) -> tuple[int, int, int, int] | None:
        """
        What the frames we send depend on, when that is only parameters.

        Without context takeover on our side, a message's compressed frame
        depends on nothing but these parameters: a broadcast may compress it
        once, with any connection's L{PerMessageDeflate}, and send the same
        bytes to every connection with an equal key.  With context takeover
        each connection's frames depend on its history: C{None}.
        """
        if not self.sendNoContextTakeover:
            return None
        return (self._compressWbits, self.compressLevel, self.memLevel, self.minSize)

    def compress(self, payload: bytes) -> bytes:
        """
        Compress a whole message (RFC 7692 section 7.2.1).

        @param payload: the message's payload (UTF-8 for text).
        @return: the payload of a frame with RSV1 set.
        """
        compressor = self._compressor
        if compressor is None:
            compressor = zlib.compressobj(
                self.compressLevel, zlib.DEFLATED, self._compressWbits, self.memLevel
            )
            if not self.sendNoContextTakeover:
                self._compressor = compressor
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        # Z_SYNC_FLUSH always ends with an empty stored block.
        return data[:-_TAIL_SIZE]

    def decompress(self, chunk: bytes, final: bool, limit: int) -> bytes:
        """
        Inflate the next part of a compressed message.

        @param chunk: the next bytes of the message's compressed payload,
            any part of any of its frames.
        @param final: whether C{chunk} ends the message.
        @param limit: the most bytes this call may return: the message's
            size limit less what its earlier parts inflated to.  At most
            C{limit + 1} bytes are ever inflated, so a small frame cannot
            expand into gigabytes.
        @return: the inflated bytes.
        @raise ProtocolError: with 1009 if C{chunk} inflates to more than
            C{limit} bytes, with 1007 if the data is not valid DEFLATE.
        """
        decompressor = self._decompressor
        if decompressor is None:
            decompressor = self._decompressor = zlib.decompressobj(-self.receiveWindowBits)
        if final:
            chunk += _TAIL
        try:
            # zlib reads a max_length of 0 as "no limit": ask for one more.
            data = decompressor.decompress(chunk, limit + 1)
        except zlib.error:
            raise _corrupt("invalid compressed data") from None
        if len(data) > limit:
            raise _tooBig(limit)
        if decompressor.eof:
            # The stream ended with a BFINAL block: only the empty stored
            # block of section 7.2.1 may follow.
            trailer = decompressor.unused_data
            if final:
                ended = trailer == _TAIL or trailer == _STORED_BLOCK_START + _TAIL
            else:
                ended = trailer == b"" or trailer == _STORED_BLOCK_START
            if not ended:
                raise _corrupt("data after the final compressed block")
            if final:
                self._decompressor = None
        elif final and self.receiveNoContextTakeover:
            self._decompressor = None
        return data
