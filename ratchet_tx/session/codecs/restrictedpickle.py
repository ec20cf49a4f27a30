# -*- test-case-name: tests.session.test_restrictedpickle -*-
"""
Python's pickle, read with an unpickler that can make only plain data:
what Django's Redis cache stores a session as (C{RedisSerializer}:
C{pickle.dumps(session_dict, pickle.HIGHEST_PROTOCOL)}).

An ordinary C{pickle.loads} runs any callable the data names, so whoever
can write to the cache can run code in the reader.  This unpickler resolves
only the names in L{ALLOWED}: the standard library's value types a session
plausibly holds (dates and times, decimals, UUIDs, sets), and none whose
constructor could be asked to allocate more than the pickle's own size
(C{bytearray(10**12)}: protocol 5 has an opcode for byte arrays anyway).  Any other name
(a model instance, C{os.system}, C{builtins.eval}, C{copyreg._reconstructor})
refuses the whole session with L{MalformedSession}.  The input is bounded
by L{Limits.maxSize} before it is read, and the value made is checked
against L{Limits.maxDepth} and L{Limits.maxElements} after.

Pickle protocols 2 to 5 are read whole (Django writes the highest); 0 and
1 only for plain data, since they make other objects through
C{copyreg._reconstructor}, which is not allowed.
"""

from __future__ import annotations

import _compat_pickle
import io
import pickle
from typing import Any

from ratchet_tx.session.codecs.limits import DEFAULT_LIMITS, Limits, checkJSONValue
from ratchet_tx.session.errors import MalformedSession

#: The only globals a session's pickle may name: C{(module, name)}.
ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "complex"),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("decimal", "Decimal"),
        ("uuid", "UUID"),
        ("uuid", "SafeUUID"),
        ("collections", "OrderedDict"),
    }
)


def _latin1(text: str, encoding: str) -> bytes:
    """
    C{_codecs.encode} as protocols 0 to 2 pickle C{bytes}, for Latin-1 only
    (any other codec is a transformation the data has no need of).
    """
    if encoding != "latin1" or not isinstance(text, str):
        raise MalformedSession("the pickle encodes bytes in a way pickle does not")
    return text.encode("latin1")


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        # Protocols up to 2 name Python 2's modules (__builtin__.set), which
        # the unpickler translates: check the names it would use.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) == ("_codecs", "encode"):
            return _latin1
        if (module, name) not in ALLOWED:
            raise MalformedSession(f"the pickle names {module}.{name}, which is not allowed")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise MalformedSession("the pickle holds a persistent id")


def loads(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """
    Unpickle C{data}, making nothing but plain values and L{ALLOWED} types.

    @raise MalformedSession: if C{data} is not a pickle, names anything not
        allowed, or is over C{limits}.
    """
    limits.checkSize(len(data))
    try:
        value = _RestrictedUnpickler(io.BytesIO(data)).load()
    except MalformedSession:
        raise
    except Exception as error:
        # A truncated or forged pickle fails in many ways: UnpicklingError,
        # EOFError, and whatever an allowed constructor raises for bad
        # arguments (TypeError, ValueError, OverflowError...).
        raise MalformedSession(f"not a valid pickle ({type(error).__name__})") from None
    checkJSONValue(value, limits)
    return value
