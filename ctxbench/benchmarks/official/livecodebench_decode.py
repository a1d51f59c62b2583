"""Safe decoding of LiveCodeBench private test cases.

Why: in `code_generation_lite` the private tests of later releases are stored as
base64(zlib(pickle(json_string))). Unpickling runs arbitrary code if the file was tampered with (a
pickle can name any callable, e.g. os.system, through GLOBAL + REDUCE). A benchmark file that a user
downloaded must never be able to execute code in the ctxbench process, so:

1. the decompressed size is capped (no zlib bombs);
2. the opcode stream is scanned with `pickletools.genops` (a parser, it executes nothing) and any
   opcode that can reach a callable or an object constructor is refused;
3. the data is then loaded by an Unpickler whose `find_class` refuses everything (and which has no
   persistent ids), so even an opcode the scan missed cannot obtain a callable;
4. the result must be plain data (str / bytes / list / dict / int / float / bool / None), and finally
   a JSON list of {"input", "output", "testtype"} objects.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import pickletools
import zlib

from ctxbench.core.errors import DataError

MAX_DECOMPRESSED = 1 << 30  # 1 GiB: far above any real problem's tests, far below a bomb

# Opcodes that only build plain data (strings, numbers, lists, dicts, tuples for dict keys aside).
_ALLOWED_OPS = {
    "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP",
    "NONE", "NEWTRUE", "NEWFALSE",
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
    "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8",
    "EMPTY_LIST", "LIST", "APPEND", "APPENDS",
    "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS",
    "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
    "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "GET", "BINGET", "LONG_BINGET",
}
_PLAIN = (str, bytes, int, float, bool, type(None))


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that can only rebuild plain data: every global lookup is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refused: pickle wants the global {module}.{name}")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused: pickle uses persistent ids")


def _check_opcodes(blob: bytes) -> None:
    try:
        for op, _arg, pos in pickletools.genops(blob):
            if op.name not in _ALLOWED_OPS:
                raise DataError(f"refused pickle: opcode {op.name} at byte {pos} can call code or build objects")
    except DataError:
        raise
    except Exception as e:  # noqa: BLE001 (a malformed stream raises many types; all mean 'refuse')
        raise DataError(f"malformed pickle: {e}") from None


def _check_plain(obj, depth: int = 0) -> None:
    if depth > 64:
        raise DataError("refused pickle: data nested deeper than 64 levels")
    if isinstance(obj, _PLAIN):
        return
    if isinstance(obj, (list, tuple)):
        for x in obj:
            _check_plain(x, depth + 1)
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_plain(k, depth + 1)
            _check_plain(v, depth + 1)
        return
    raise DataError(f"refused pickle: unpickled a {type(obj).__name__}, only plain data is accepted")


def safe_unpickle(blob: bytes):
    """Plain data from a pickle, or DataError. Never imports or calls anything named by the pickle."""
    _check_opcodes(blob)
    try:
        obj = RestrictedUnpickler(io.BytesIO(blob)).load()
    except pickle.UnpicklingError as e:
        raise DataError(f"refused pickle: {e}") from None
    except Exception as e:  # noqa: BLE001 (EOFError, ValueError, ...: all mean 'malformed')
        raise DataError(f"malformed pickle: {type(e).__name__}: {e}") from None
    _check_plain(obj)
    return obj


def _inflate(raw: bytes) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(raw, MAX_DECOMPRESSED)
    if d.unconsumed_tail:
        raise DataError(f"refused: private tests decompress to more than {MAX_DECOMPRESSED} bytes")
    return out + d.flush()


def _as_tests(obj, where: str) -> list[dict]:
    if isinstance(obj, bytes):
        obj = obj.decode("utf-8")
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: private tests are not valid JSON: {e.msg}") from None
    if not isinstance(obj, list):
        raise DataError(f"{where}: private tests must be a list, got {type(obj).__name__}")
    for i, t in enumerate(obj):
        if not (isinstance(t, dict) and isinstance(t.get("input"), str) and isinstance(t.get("output"), str)
                and t.get("testtype") in ("stdin", "functional")):
            raise DataError(f"{where}: test {i} is not {{input: str, output: str, testtype: stdin|functional}}")
    return obj


def decode_private_tests(field: str, where: str = "private_test_cases") -> list[dict]:
    """The list of tests in a `private_test_cases` field: plain JSON (early releases) or
    base64(zlib(pickle(json string))) (later releases), decoded without executing anything."""
    if not field:
        return []
    s = field.strip()
    if s.startswith("["):
        return _as_tests(s, where)
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise DataError(f"{where}: neither JSON nor base64") from None
    try:
        blob = _inflate(raw)
    except zlib.error as e:
        raise DataError(f"{where}: base64 payload is not zlib data: {e}") from None
    try:
        return _as_tests(safe_unpickle(blob), where)
    except DataError as e:
        raise DataError(f"{where}: {e}") from None


def encode_private_tests(tests: list[dict]) -> str:
    """The official encoding (used to write fixtures): base64(zlib(pickle(json.dumps(tests))))."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode("ascii")


__all__ = [
    "MAX_DECOMPRESSED",
    "RestrictedUnpickler",
    "decode_private_tests",
    "encode_private_tests",
    "safe_unpickle",
]
