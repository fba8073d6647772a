"""UEA/UCR .ts files: a hand-written file read exactly, the writer's files read back
identical, the header checked against the data, and errors that name the file, the line and
the fix. A real archive file is read when SEQNETS_UEA_DIR points at a folder holding it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from seqnets.data import TsData, read_ts, write_ts
from seqnets.errors import DataError

HEADER = """# a comment
% an ARFF-style comment
@problemName Tiny
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
"""
CASES = """1,2,3:4,5,6:up
0.5,?,-1e-3:7,8,9:down

-2,-3:1.25,?:up
"""


def test_a_hand_written_file_reads_exactly(tmp_path):
    (tmp_path / "tiny.ts").write_text(HEADER + CASES)
    d = read_ts(tmp_path / "tiny.ts")
    assert isinstance(d, TsData) and len(d) == 3 and d.problem == "Tiny"
    assert d.labels == ("up", "down", "up") and d.classes == ("up", "down")
    assert d.header["dimensions"] == "2" and d.header["classlabel"] == "true up down"
    assert d.series[0].dtype == np.float32 and d.series[0].shape == (3, 2)
    np.testing.assert_array_equal(d.series[0], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(d.series[1], np.float32([[0.5, 7], [np.nan, 8], [-1e-3, 9]]))
    np.testing.assert_array_equal(d.series[2], [[-2, 1.25], [-3, np.nan]])


def test_tags_are_case_blind_and_unlabelled_files_read(tmp_path):
    text = "@problemname U\n@UNIVARIATE TRUE\n@equallength true\n@serieslength 3\n" \
           "@classlabel false\n@DATA\n1,2,3\n4,5,6\n"
    (tmp_path / "u.ts").write_text(text)
    d = read_ts(tmp_path / "u.ts")
    assert d.labels is None and d.classes == () and d.series[1].shape == (3, 1)
    np.testing.assert_array_equal(d.series[1][:, 0], [4, 5, 6])


@pytest.mark.parametrize("labelled", [True, False])
def test_write_then_read_is_identical(tmp_path, labelled):
    rng = np.random.default_rng(0)
    series = [(rng.normal(size=(n, 3)) * 10.0 ** rng.integers(-6, 6)).astype(np.float32)
              for n in (5, 1, 9)]
    series[0][2, 1] = np.nan
    labels = ["b", "a", "b"] if labelled else None
    path = write_ts(tmp_path / "out" / "w.ts", series, labels, problem="Round")
    d = read_ts(path)
    assert d.problem == "Round" and d.header["missing"] == "true"
    assert d.labels == (("b", "a", "b") if labelled else None)
    assert d.classes == (("a", "b") if labelled else ())
    for got, want in zip(d.series, series, strict=True):
        np.testing.assert_array_equal(got, want)  # float32 exactly, NaN where NaN


def test_the_writer_states_equal_lengths_and_one_channel(tmp_path):
    path = write_ts(tmp_path / "e.ts", [np.arange(4.0), np.ones(4)], [1, 2], classes=[2, 1])
    text = path.read_text()
    assert "@univariate true" in text and "@equalLength true" in text
    assert "@seriesLength 4" in text and "@classLabel true 2 1" in text
    assert "@missing false" in text and text.splitlines()[-1] == "1.0,1.0,1.0,1.0:2"
    assert read_ts(path).classes == ("2", "1")


def test_the_writer_refuses_labels_the_format_cannot_hold(tmp_path):
    with pytest.raises(DataError, match="no space"):
        write_ts(tmp_path / "x.ts", [np.ones(3)], ["a b"])
    with pytest.raises(DataError, match="declared in classes"):
        write_ts(tmp_path / "x.ts", [np.ones(3)], ["c"], classes=["a"])
    with pytest.raises(DataError, match="infinite"):
        write_ts(tmp_path / "x.ts", [np.array([1.0, np.inf])])
    assert not (tmp_path / "x.ts").exists()


# ----------------------------------------------------------------------------- malformed

H = "@problemName T\n@missing false\n@dimensions 2\n@equalLength true\n@seriesLength 3\n" \
    "@classLabel true a b\n"
MALFORMED = {
    "no_data_line": (H + "1,2,3:1,2,3:a\n", ":7", ["data before the @data line"]),
    "no_data_at_all": (H, "", ["no @data line"]),
    "dimension_mismatch": (H + "@data\n1,2,3:4,5,6:a\n1,2,3:a\n", ":9",
                           ["1 channels, but @dimensions", "says 2"]),
    "label_not_declared": (H + "@data\n1,2,3:4,5,6:c\n", ":8", ["label 'c' is not declared"]),
    "no_label": (H.replace("@dimensions 2\n", "") + "@data\n1,2,3\n", ":7", ["no class label"]),
    "unequal_lengths": (H.replace("@seriesLength 3\n", "") + "@data\n1,2,3:4,5,6:a\n"
                        "1,2:3,4:b\n", ":8", ["2 steps, but @equalLength true", "is 3"]),
    "series_length": (H + "@data\n1,2,3,4:4,5,6,7:a\n", ":8", ["4 steps", "length is 3"]),
    "non_numeric": (H + "@data\n1,2,3:4,x5,6:a\n", ":8", ["channel 1, value 1: 'x5' is not a "
                                                         "number"]),
    "infinite": (H + "@data\n1,inf,3:4,5,6:a\n", ":8", ["channel 0, value 1: 'inf' is not "
                                                        "finite", "'?'"]),
    "empty_channel": (H + "@data\n1,2,3::a\n", ":8", ["channel 1, value 0: '' is not a number"]),
    "missing_when_not": (H + "@data\n1,?,3:4,5,6:a\n", ":8", ["says @missing false"]),
    "ragged_channels": (H.replace("@equalLength true\n@seriesLength 3\n", "") +
                        "@data\n1,2,3:4,5:a\n", ":6", ["different lengths [3, 2]"]),
    "no_cases": (H + "@data\n\n", "", ["no cases after @data"]),
    "no_class_label_tag": ("@problemName T\n@data\n1,2\n", "", ["no @classLabel line"]),
    "empty_class_list": ("@classLabel true\n@data\n1,2:a\n", ":1", ["list each class once"]),
    "bad_boolean": ("@equalLength maybe\n@classLabel false\n@data\n1\n", ":1",
                    ["@equallength is 'maybe', not true or false"]),
    "bad_count": ("@dimensions two\n@classLabel false\n@data\n1\n", ":1",
                  ["@dimensions is 'two', not a positive integer"]),
    "univariate_conflict": ("@univariate true\n@dimensions 3\n@classLabel false\n@data\n1\n",
                            "", ["@univariate true but @dimensions 3"]),
    "time_stamps": ("@timeStamps true\n@classLabel false\n@data\n(0,1),(1,2)\n", ":1",
                    ["@timeStamps true is not supported"]),
    "regression": ("@targetLabel true\n@data\n1,2:0.5\n", ":1", ["regression file"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_files_get_errors_naming_file_line_and_fix(tmp_path, case):
    text, at, words = MALFORMED[case]
    path = tmp_path / f"{case}.ts"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_ts(path)
    message = str(info.value)
    assert f"{path}{at}" in message, message
    for w in words:
        assert w in message, message


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_ts(tmp_path / "nope.ts")
    (tmp_path / "b.ts").write_bytes(b"\xff\xfe\x00@data")
    with pytest.raises(DataError, match="not UTF-8"):
        read_ts(tmp_path / "b.ts")


# ----------------------------------------------------------------------------- a real file

UEA = os.environ.get("SEQNETS_UEA_DIR")


@pytest.mark.skipif(not UEA, reason="set SEQNETS_UEA_DIR to a folder with JapaneseVowels_*.ts")
def test_japanese_vowels_reads_as_published():
    train = read_ts(next(Path(UEA).rglob("JapaneseVowels_TRAIN.ts")))
    test = read_ts(next(Path(UEA).rglob("JapaneseVowels_TEST.ts")))
    assert (len(train), len(test)) == (270, 370)
    assert train.classes == tuple("123456789") and set(test.labels) == set(train.classes)
    lengths = [len(s) for s in train.series + test.series]
    assert {s.shape[1] for s in train.series + test.series} == {12}
    assert (min(lengths), max(lengths)) == (7, 29)
    assert train.labels.count("1") == 30
