"""QuickDraw .ndjson: simplified and raw drawings, a folder as many classes, a writer that
reads back identical, and errors that name the file, the line, the field and the fix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seqnets.data import Drawings, read_quickdraw, write_quickdraw
from seqnets.errors import ConfigError, DataError

CAT = ('{"word":"cat","countrycode":"US","timestamp":"2017-03-27 00:14:56.98912 UTC",'
       '"recognized":true,"key_id":"5468462318403584",'
       '"drawing":[[[10,15,15],[20,20,30]],[[0,5],[0,5]]]}')
CAT2 = ('{"word":"cat","countrycode":"DE","timestamp":"2017-03-09 09:42:08.68512 UTC",'
        '"recognized":false,"key_id":"6277498397409280","drawing":[[[3,4],[5,9]]]}')
RAW = ('{"word":"dog","countrycode":"BR","timestamp":"2017-01-27 19:01:47.03012 UTC",'
       '"recognized":true,"key_id":"4577946513588224",'
       '"drawing":[[[100.5,101,103],[50,52.25,55],[0,17,33]]]}')


def test_a_simplified_file_reads_exactly(tmp_path):
    (tmp_path / "cat.ndjson").write_text(CAT + "\n" + CAT2 + "\n\n")
    d = read_quickdraw(tmp_path / "cat.ndjson")
    assert isinstance(d, Drawings) and len(d) == 2 and d.labels == ("cat", "cat")
    np.testing.assert_array_equal(d.drawings[0][0], [[10, 20], [15, 20], [15, 30]])
    np.testing.assert_array_equal(d.drawings[0][1], [[0, 0], [5, 5]])
    assert d.meta[0] == {"countrycode": "US", "timestamp": "2017-03-27 00:14:56.98912 UTC",
                         "recognized": True, "key_id": "5468462318403584"}
    assert d.sources == (f"{tmp_path / 'cat.ndjson'}:1", f"{tmp_path / 'cat.ndjson'}:2")
    s3 = d.stroke3()
    assert s3[0].dtype == np.int16
    np.testing.assert_array_equal(s3[0], [[10, 20, 0], [5, 0, 0], [0, 10, 1], [-15, -30, 0],
                                          [5, 5, 1]])
    np.testing.assert_array_equal(s3[1], [[3, 5, 0], [1, 4, 1]])


def test_the_raw_variant_keeps_its_times_and_rounds_for_stroke3(tmp_path):
    (tmp_path / "dog.ndjson").write_text(RAW + "\n")
    d = read_quickdraw(tmp_path / "dog.ndjson")
    np.testing.assert_array_equal(d.drawings[0][0], [[100.5, 50, 0], [101, 52.25, 17],
                                                     [103, 55, 33]])
    np.testing.assert_array_equal(d.stroke3()[0], [[100, 50, 0], [1, 2, 0], [2, 3, 1]])


def test_a_folder_reads_as_many_classes_with_limit_and_recognized_only(tmp_path):
    (tmp_path / "cat.ndjson").write_text(CAT + "\n" + CAT2 + "\n")
    (tmp_path / "dog.ndjson").write_text(RAW + "\n")
    (tmp_path / "notes.txt").write_text("not a drawing")
    d = read_quickdraw(tmp_path)
    assert d.labels == ("cat", "cat", "dog") and d.classes == ("cat", "dog")
    assert read_quickdraw(tmp_path, limit=1).labels == ("cat", "dog")
    assert [m["key_id"] for m in read_quickdraw(tmp_path, recognized_only=True).meta] == \
        ["5468462318403584", "4577946513588224"]


def test_write_then_read_is_identical_and_looks_like_the_real_files(tmp_path):
    first = read_quickdraw_text(tmp_path, CAT + "\n" + RAW + "\n")
    path = write_quickdraw(tmp_path / "out" / "again.ndjson", first.drawings, first.labels,
                           first.meta)
    again = read_quickdraw(path)
    assert again.labels == first.labels and again.meta == first.meta
    for a, b in zip(again.drawings, first.drawings, strict=True):
        assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == json.loads(CAT)  # same fields, integers written as ints
    assert lines[0] == CAT  # and in QuickDraw's order and spacing


def read_quickdraw_text(tmp_path, text: str) -> Drawings:
    (tmp_path / "in.ndjson").write_text(text)
    return read_quickdraw(tmp_path / "in.ndjson")


# ----------------------------------------------------------------------------- malformed


def line(**change) -> str:
    obj = json.loads(CAT)
    for key, value in change.items():
        if value is KeyError:
            obj.pop(key)
        else:
            obj[key] = value
    return json.dumps(obj)


MALFORMED = {
    "bad_json": (CAT + "\n" + CAT[:-9] + "\n", ":2", ["not valid JSON", "one complete JSON"]),
    "no_drawing": (line(drawing=KeyError), ":1", ["no 'drawing' field", "Fix"]),
    "no_word": (CAT + "\n" + line(word=KeyError), ":2", ["no 'word' field"]),
    "xy_mismatch": (line(drawing=[[[1, 2], [3, 4]], [[1, 2, 3], [4, 5]]]), ":1",
                    ["'drawing' stroke 1", "x has 3, y has 2"]),
    "non_numeric": (line(drawing=[[[1, "2"], [3, 4]]]), ":1",
                    ["stroke 0: x[1] is '2', not a finite number"]),
    "nan": ('{"word":"cat","drawing":[[[1,NaN],[3,4]]]}', ":1", ["x[1] is nan"]),
    "boolean_coordinate": (line(drawing=[[[1, 2], [True, 4]]]), ":1", ["y[0] is True"]),
    "empty_file": ("", "", ["holds no drawings"]),
    "blank_lines_only": ("\n  \n", "", ["holds no drawings"]),
    "drawing_not_a_list": (line(drawing="strokes"), ":1", ["'drawing' is 'strokes'"]),
    "empty_drawing": (line(drawing=[]), ":1", ["not a non-empty list of strokes"]),
    "one_list_stroke": (line(drawing=[[[1, 2]]]), ":1", ["stroke 0 is not [[x...], [y...]]"]),
    "empty_stroke": (line(drawing=[[[], []]]), ":1", ["stroke 0 has no points"]),
    "word_not_a_string": (line(word=7), ":1", ["'word' is 7"]),
    "recognized_as_text": (line(recognized="yes"), ":1", ["'recognized' is 'yes', a str",
                                                           "is a bool"]),
    "countrycode_number": (line(countrycode=49), ":1", ["'countrycode' is 49"]),
    "an_array_line": ("[1, 2, 3]\n", ":1", ["a list, not a JSON object"]),
    "mixed_t": (line(drawing=[[[1], [2]], [[1], [2], [3]]]), ":1", ["some strokes have t"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_lines_get_errors_naming_file_line_field_and_fix(tmp_path, case):
    text, at, words = MALFORMED[case]
    path = tmp_path / f"{case}.ndjson"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_quickdraw(path)
    message = str(info.value)
    assert f"{path}{at}" in message and "Fix" in message, message
    for w in words:
        assert w in message, message


def test_a_bad_file_in_a_folder_fails_the_whole_read(tmp_path):
    (tmp_path / "a.ndjson").write_text(CAT + "\n")
    (tmp_path / "b.ndjson").write_text(CAT + "\n" + line(drawing=[]) + "\n")
    with pytest.raises(DataError, match="b.ndjson:2"):
        read_quickdraw(tmp_path)


def test_missing_paths_binary_files_and_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_quickdraw(tmp_path / "nope.ndjson")
    with pytest.raises(DataError, match="no .ndjson files in the folder"):
        read_quickdraw(tmp_path)
    (tmp_path / "cat.ndjson").write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(DataError, match="not UTF-8 text.*gunzip"):
        read_quickdraw(tmp_path / "cat.ndjson")
    with pytest.raises(ConfigError, match="limit"):
        read_quickdraw(tmp_path, limit=0)


def test_the_writer_refuses_bad_drawings_and_writes_nothing(tmp_path):
    stroke = np.array([[1, 2], [3, 4]])
    with pytest.raises(DataError, match="1 drawings but 2 labels"):
        write_quickdraw(tmp_path / "x.ndjson", [[stroke]], ["a", "b"])
    with pytest.raises(DataError, match="drawing 0, stroke 1: shape"):
        write_quickdraw(tmp_path / "x.ndjson", [[stroke, np.zeros((2, 4))]], ["a"])
    with pytest.raises(DataError, match="'recognized' is 'no'"):
        write_quickdraw(tmp_path / "x.ndjson", [[stroke]], ["a"], [{"recognized": "no"}])
    assert list(tmp_path.iterdir()) == []
