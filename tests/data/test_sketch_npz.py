"""sketch-rnn .npz files: the format real files have, read without running pickle's general
machinery; a hostile pickle is refused and its payload never runs; malformed files get
errors naming the file, the split, the sketch and the fix."""

from __future__ import annotations

import copyreg
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from seqnets.data import read_sketch_npz, write_sketch_npz
from seqnets.errors import DataError

SKETCHES = [np.array([[1, 2, 0], [3, -4, 1]], np.int16), np.array([[5, 5, 1]], np.int16),
            np.array([[7, 0, 0], [0, 7, 1]], np.int16)]


def npy_header(dtype: str, shape: tuple) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": dtype, "fortran_order": False,
                                               "shape": shape})
    return out.getvalue()


def npz_with(path, members: dict[str, bytes]):
    """A zip of raw ``.npy`` members, as np.savez lays them out."""
    with zipfile.ZipFile(path, "w") as z:
        for key, raw in members.items():
            z.writestr(f"{key}.npy", raw)
    return path


def pickled_member(obj, n: int, protocol: int = 4) -> bytes:
    return npy_header("|O", (n,)) + pickle.dumps(obj, protocol=protocol)


def object_array(items) -> np.ndarray:
    a = np.empty(len(items), dtype=object)
    for i, s in enumerate(items):
        a[i] = s
    return a


def assert_same(got: dict, want: dict):
    assert list(got) == list(want)
    for key in want:
        assert len(got[key]) == len(want[key])
        for g, w in zip(got[key], want[key], strict=True):
            assert g.dtype == np.int16
            np.testing.assert_array_equal(g, w)


# ----------------------------------------------------------------------------- reading


@pytest.mark.parametrize("compress", [True, False])
def test_write_then_read_round_trips_and_stores_pickled_object_arrays(tmp_path, compress):
    splits = {"train": SKETCHES, "valid": [SKETCHES[0], SKETCHES[2]], "test": []}
    path = write_sketch_npz(tmp_path / "cat.npz", splits, compress=compress)
    assert_same(read_sketch_npz(path), splits)
    with zipfile.ZipFile(path) as z:  # what real files hold: object arrays, even equal lengths
        assert sorted(z.namelist()) == ["test.npy", "train.npy", "valid.npy"]
        fp = io.BytesIO(z.read("valid.npy"))
        np.lib.format.read_magic(fp)
        shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        assert dtype.hasobject and dtype.kind == "O" and shape == (2,)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickles_of_every_protocol_numpy_writes_are_read(tmp_path, protocol):
    member = pickled_member(object_array(SKETCHES), 3, protocol)
    path = npz_with(tmp_path / "p.npz", {"train": member, "valid": member, "test": member})
    assert_same(read_sketch_npz(path), {k: SKETCHES for k in ("train", "valid", "test")})


def _py2_string(text: str) -> bytes:
    raw = text.encode("latin1")
    return (b"U" + bytes([len(raw)]) if len(raw) < 256 else b"T" + struct.pack("<i", len(raw))
            ) + raw


def _py2_array(descr: str, shape: tuple, payload: bytes) -> bytes:
    """What Python 2's cPickle wrote for an ndarray: GLOBAL opcodes, numpy.core names, and the
    data as a byte string (which Python 3 reads as latin-1 text)."""
    out = b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + _py2_string("b")
    out += b"\x87R(K\x01(" + b"".join(b"K" + bytes([d]) for d in shape) + b"t"
    order, flags = ("|", 63) if descr == "O8" else ("<", 0)
    out += b"cnumpy\ndtype\n" + _py2_string(descr) + b"K\x00K\x01\x87R(K\x03"
    out += _py2_string(order) + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK" + bytes([flags])
    return out + b"tb\x89" + payload + b"tb"


def test_a_python2_era_file_reads(tmp_path):
    x = np.array([[1, 2, 0], [300, -4, 1]], np.int16)
    inner = _py2_array("i2", x.shape, _py2_string(x.tobytes().decode("latin1")))
    outer = b"\x80\x02" + _py2_array("O8", (1,), b"](" + inner + b"e") + b"."
    member = npy_header("|O", (1,)) + outer
    path = npz_with(tmp_path / "old.npz", {"train": member, "valid": member, "test": member})
    np.testing.assert_array_equal(read_sketch_npz(path)["train"][0], x)


def test_equal_length_sketches_stored_as_one_integer_block_read_as_sketches(tmp_path):
    block = np.stack([SKETCHES[0], SKETCHES[2]]).astype(np.int32)
    np.savez(tmp_path / "block.npz", train=block, valid=block[:1], test=block[:0])
    got = read_sketch_npz(tmp_path / "block.npz")
    assert [len(v) for v in got.values()] == [2, 1, 0]
    np.testing.assert_array_equal(got["train"][1], SKETCHES[2])


def test_only_the_asked_splits_are_read(tmp_path):
    path = write_sketch_npz(tmp_path / "s.npz", {"train": SKETCHES, "extra": SKETCHES[:1]})
    assert list(read_sketch_npz(path, splits=("extra",))) == ["extra"]


# ----------------------------------------------------------------------------- hostile pickles


class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Exec:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.mark.parametrize("payload", ["system_top", "system_inside", "exec_inside"])
def test_a_pickle_that_would_run_code_is_refused_and_never_runs(tmp_path, payload):
    marker = tmp_path / "PWNED"
    evil = {"system_top": _System(marker),
            "system_inside": object_array([SKETCHES[0], _System(marker)]),
            "exec_inside": object_array([_Exec(marker), SKETCHES[1]])}[payload]
    pickle.loads(pickle.dumps(_System(tmp_path / "control")))  # the payload does work...
    assert (tmp_path / "control").exists()
    good = pickled_member(object_array(SKETCHES), 3)
    path = npz_with(tmp_path / "evil.npz", {"train": good,
                                             "valid": pickled_member(evil, 2), "test": good})
    with pytest.raises(DataError) as info:
        read_sketch_npz(path)
    message = str(info.value)
    assert "evil.npz" in message and "'valid'" in message and "ran nothing" in message
    assert ("system" in message) if "system" in payload else ("exec" in message)
    assert not marker.exists()  # ...but not when seqnets reads it


def test_an_extension_code_pickle_is_refused_too(tmp_path):
    marker = tmp_path / "PWNED"
    copyreg.add_extension("posix", "system", 0x7FFF0001)
    try:
        raw = pickle.dumps(_System(marker), protocol=2)
        assert b"\x82" in raw or b"\x83" in raw or b"\x84" in raw  # EXT1/2/4, not a name
        member = npy_header("|O", (1,)) + raw
        path = npz_with(tmp_path / "ext.npz", {"train": member, "valid": member, "test": member})
        with pytest.raises(DataError, match="posix.system"):
            read_sketch_npz(path)
    finally:
        copyreg.remove_extension("posix", "system", 0x7FFF0001)
    assert not marker.exists()


class _Huge:
    def __reduce__(self):
        return np.ndarray.__reduce__(np.zeros(1))[0], (np.ndarray, (10**12,), b"b")


class _CallsNdarray:
    def __reduce__(self):
        return np.ndarray, ((10**12,), "i1")


def test_the_allowed_constructor_builds_only_what_numpy_itself_asks_for(tmp_path):
    member = pickled_member(_Huge(), 1)
    path = npz_with(tmp_path / "huge.npz", {"train": member, "valid": member, "test": member})
    with pytest.raises(DataError, match="unexpected array constructor arguments"):
        read_sketch_npz(path)
    member = pickled_member(_CallsNdarray(), 1)  # the name numpy.ndarray is not callable
    path = npz_with(tmp_path / "call.npz", {"train": member, "valid": member, "test": member})
    with pytest.raises(DataError, match="key 'train' is not a readable array.*not callable"):
        read_sketch_npz(path)


# ----------------------------------------------------------------------------- malformed files


def _write(tmp_path, case: str):
    path = tmp_path / f"{case}.npz"
    good = pickled_member(object_array(SKETCHES), 3)
    members = {"train": good, "valid": good, "test": good}
    if case == "missing_key":
        members.pop("valid")
    elif case == "not_a_zip":
        path.write_text("train,valid,test\n1,2,3\n")
        return path
    elif case == "truncated":
        write_sketch_npz(path, {k: SKETCHES * 50 for k in members})
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return path
    elif case == "float_member":
        members["train"] = npy_header("<f8", (3,)) + np.zeros(3).tobytes()
    elif case == "truncated_member":
        members["test"] = good[: len(good) - 30]
    elif case == "stroke_shape":
        members["train"] = pickled_member(object_array([SKETCHES[0], np.zeros((4, 2),
                                                                             np.int16)]), 2)
    elif case == "pen_values":
        members["valid"] = pickled_member(object_array([np.array([[1, 1, 2]], np.int16)]), 1)
    elif case == "float_strokes":
        members["train"] = pickled_member(object_array([SKETCHES[0].astype(float)]), 1)
    elif case == "not_an_array_inside":
        members["train"] = pickled_member(object_array([[[1, 2, 1]]]), 1)
    elif case == "a_dict":
        members["train"] = pickled_member({"a": 1}, 1)
    elif case == "out_of_int16":
        members["train"] = pickled_member(object_array([np.array([[40000, 0, 1]])]), 1)
    elif case == "empty_sketch":
        members["test"] = pickled_member(object_array([np.zeros((0, 3), np.int16)]), 1)
    return npz_with(path, members)


@pytest.mark.parametrize(("case", "words"), [
    ("missing_key", ["no split 'valid'", "its keys are ['train', 'test']"]),
    ("not_a_zip", ["not a complete .npz", "download or write it again"]),
    ("truncated", ["not a complete .npz"]),
    ("float_member", ["key 'train' is a float64 array of shape (3,)", "write_sketch_npz"]),
    ("truncated_member", ["key 'test' is not a readable array", "truncated or corrupt"]),
    ("stroke_shape", ["key 'train', sketch 1 has shape (4, 2)", "[n, 3]"]),
    ("pen_values", ["key 'valid', sketch 0, row 0: pen_lifted is 2", "0 or 1"]),
    ("float_strokes", ["key 'train', sketch 0 is float64", "int16 [n, 3]"]),
    ("not_an_array_inside", ["sketch 0 is list", "int16 [n, 3]"]),
    ("a_dict", ["holds a pickled dict", "array of stroke-3 arrays"]),
    ("out_of_int16", ["sketch 0 has offsets outside int16"]),
    ("empty_sketch", ["key 'test', sketch 0 has shape (0, 3)"]),
])
def test_malformed_files_get_errors_naming_file_key_sketch_and_fix(tmp_path, case, words):
    path = _write(tmp_path, case)
    with pytest.raises(DataError) as info:
        read_sketch_npz(path)
    message = str(info.value)
    assert f"{case}.npz" in message and "Fix:" in message, message
    for w in words:
        assert w in message, message


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="file not found: .*nope.npz"):
        read_sketch_npz(tmp_path / "nope.npz")


def test_the_writer_refuses_what_the_reader_would_and_writes_nothing(tmp_path):
    with pytest.raises(DataError, match="split 'train', sketch 1, row 0: pen_lifted is 3"):
        write_sketch_npz(tmp_path / "bad.npz", {"train": [SKETCHES[0], [[1, 1, 3]]]})
    with pytest.raises(DataError, match="identifiers"):
        write_sketch_npz(tmp_path / "bad.npz", {"a b": SKETCHES})
    assert list(tmp_path.iterdir()) == []
