"""What every fuzz test shares: the two settings (a short default run, a long slow-marked
one), a hard time limit per example, the property itself (a result or a seqnets error,
nothing else), and mutations of valid files at the byte, line and JSON level.

Pure random bytes rarely get past a reader's first check, so most examples start from a
file the project writes itself and change it a little: a flipped or inserted byte, a
dropped line, a field set to ``NaN`` or ``10**400``, a JSON value of the wrong type, a
nesting 100,000 deep.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from seqnets.errors import SeqnetsError

# examples per reader: the default suite runs a few, the slow run (-m slow) a thousand;
# both can be raised or lowered from the environment for a longer hunt
FAST_EXAMPLES = int(os.environ.get("SEQNETS_FUZZ_FAST", "40"))
SLOW_EXAMPLES = int(os.environ.get("SEQNETS_FUZZ_SLOW", "1000"))
HARD_LIMIT_S = 20.0  # one example running this long is a hang, whatever the deadline says

_COMMON = dict(
    database=None,  # nothing written into the repository
    deadline=timedelta(seconds=5),  # generous: the machine is shared; hangs are HARD_LIMIT_S
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
    print_blob=True,
)
# the default suite: deterministic (a CI run never turns red by chance), a few per reader
FAST = settings(max_examples=FAST_EXAMPLES, derandomize=True, **_COMMON)
# the slow run: random, new examples each time
SLOW = settings(max_examples=SLOW_EXAMPLES, **_COMMON)


class Hang(BaseException):
    """An example ran past the hard limit (a BaseException: a reader's ``except Exception``
    must not swallow it)."""


@contextlib.contextmanager
def hard_limit(seconds: float = HARD_LIMIT_S):
    """Raise :class:`Hang` in the main thread if the block runs longer than ``seconds``
    (hypothesis' deadline only judges an example after it has finished)."""
    def _hang(signum, frame):
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, _hang)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refused_or(call):
    """The property: ``call()`` returns (its value is returned) or raises a
    :class:`~seqnets.errors.SeqnetsError` (``None`` is returned). Any other exception, a
    hang included, escapes and fails the test."""
    with hard_limit():
        try:
            return call()
        except SeqnetsError as err:
            assert str(err).strip(), f"{type(err).__name__} without a message"
            return None


# ----------------------------------------------------------------------------- bytes

TOKENS = (b"", b"0", b"-1", b"1", b"nan", b"NaN", b"inf", b"-inf", b"1e999", b"-0",
          b"9" * 25, b"9" * 5000, b"1.5", b"\x00", b"\xff\xfe", b"\xc3", b"\xe2\x82",
          b"\xd9\xa3", b"\xc2\xb2", b",", b";", b":", b"\n", b"\r\n", b"\r", b'"', b"'",
          b"?", b"@", b"#", b"%", b"[", b"]", b"{", b"}", b"[" * 5000, b"true", b"null",
          "\u00e9".encode(), b"\t", b" ", b"2020-13-45", b"1_000", b"0x10", b"1e5",
          b"\xef\xbb\xbf")


@st.composite
def mutated_bytes(draw, base: bytes, max_ops: int = 4) -> bytes:
    """``base`` changed by 1..``max_ops`` byte operations."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(("set", "flip", "truncate", "insert", "delete",
                                   "duplicate", "token")))
        i = draw(st.integers(0, len(data)))
        if op == "set" and i < len(data):
            data[i] = draw(st.integers(0, 255))
        elif op == "flip" and i < len(data):
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 32))]
        elif op == "duplicate":
            j = draw(st.integers(i, min(len(data), i + 64)))
            data[j:j] = data[i:j]
        elif op == "token":
            width = draw(st.integers(0, 8))
            data[i:i + width] = draw(st.sampled_from(TOKENS))
    return bytes(data)


def random_bytes(max_size: int = 512):
    return st.binary(max_size=max_size)


# ----------------------------------------------------------------------------- text lines


@st.composite
def mutated_lines(draw, text: str, seps: tuple = (",",), max_ops: int = 3) -> bytes:
    """``text`` with lines dropped, duplicated, swapped, emptied or replaced, and fields
    (split on one of ``seps``) replaced, dropped or added; UTF-8 encoded."""
    lines = text.split("\n")
    token = st.sampled_from(TOKENS).map(lambda b: b.decode("utf-8", "replace"))
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(("drop", "duplicate", "swap", "empty", "replace", "field",
                                   "drop_field", "add_field", "text")))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if not lines:
            lines = [""]
        if op == "drop":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "empty":
            lines[i] = ""
        elif op == "replace":
            lines[i] = draw(token)
        elif op == "text":
            lines[i] = draw(st.text(max_size=20))
        else:
            sep = draw(st.sampled_from(seps))
            fields = lines[i].split(sep)
            k = draw(st.integers(0, len(fields) - 1))
            if op == "field":
                fields[k] = draw(st.one_of(token, st.text(max_size=6),
                                           st.floats().map(repr), st.integers().map(str)))
            elif op == "drop_field":
                del fields[k]
            else:
                fields.insert(k, draw(token))
            lines[i] = sep.join(fields)
    return "\n".join(lines).encode("utf-8", "surrogatepass")


# ----------------------------------------------------------------------------- JSON

_DEEP, _LONG_INT = "\x00deep\x00", "\x00long-int\x00"


def json_values():
    """Values of every JSON type, the awkward ones often."""
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(),
        st.sampled_from([0, -1, 1, 2, 10**9, 2**31, 2**63, 10**400, -(10**400), 1e308,
                         -1e308, 1e-320, float("nan"), float("inf"), float("-inf"), 0.5, "",
                         "x", "nan", "0", "../../etc/passwd", "/tmp", "\x00", "\udcff"]),
        st.sampled_from([_DEEP, _LONG_INT]),  # often: each breaks a different parser limit
        st.text(max_size=12))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
        max_leaves=8)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _at(value, path):
    for key in path:
        value = value[key]
    return value


@st.composite
def mutated_json(draw, obj, max_ops: int = 3) -> bytes:
    """``obj`` with 1..``max_ops`` of: a value replaced (any type, NaN, 10**400, a nesting
    100,000 deep, a 5,000-digit number), a key or item deleted, an unknown key added, a
    value wrapped in a list; serialised as JSON (NaN as ``NaN``, as Python writes it)."""
    obj = copy.deepcopy(obj)
    for _ in range(draw(st.integers(1, max_ops))):
        path = draw(st.sampled_from(list(_paths(obj))))
        op = draw(st.sampled_from(("replace", "replace", "delete", "add", "wrap")))
        if not path:
            if op in ("replace", "delete"):
                obj = draw(json_values())
            elif op == "wrap":
                obj = [obj]
            elif isinstance(obj, dict):
                obj[draw(st.text(max_size=6))] = draw(json_values())
            continue
        parent, key = _at(obj, path[:-1]), path[-1]
        if op == "replace":
            parent[key] = draw(json_values())
        elif op == "delete":
            del parent[key]
        elif op == "wrap":
            parent[key] = [parent[key]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = draw(json_values())
        else:
            parent.insert(key, draw(json_values()))
    text = json.dumps(obj, allow_nan=True)
    text = text.replace(json.dumps(_DEEP), "[" * 100_000 + "]" * 100_000)
    text = text.replace(json.dumps(_LONG_INT), "7" * 5000)  # past int()'s digit limit
    return text.encode("utf-8", "surrogatepass")


def json_file(obj):
    """A mutated ``obj`` as JSON bytes: mostly JSON-level changes, some byte-level ones on
    its text, a few random bytes."""
    text = json.dumps(obj, indent=1).encode()
    return st.one_of(mutated_json(obj), mutated_json(obj), mutated_bytes(text),
                     random_bytes(64))
