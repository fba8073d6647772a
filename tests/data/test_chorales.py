"""The shipped Bach chorales, folders and CSVs in their layout, validation, arpeggio windows,
MIDI files: counts and values checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from seqnets.data.chorale_midi import midi_bytes, read_midi, write_midi
from seqnets.data.chorales import (
    N_CLASSES,
    arpeggio_windows,
    check_chorale,
    from_classes,
    load_chorales,
    read_chorale,
    to_classes,
    write_chorale,
)
from seqnets.errors import DataError

SMALL = np.array([[74, 70, 65, 58], [74, 70, 65, 58], [75, 70, 0, 58], [0, 0, 0, 0],
                  [72, 69, 64, 45]])


@pytest.fixture(scope="module")
def shipped():
    return load_chorales()


def test_the_shipped_dataset_is_the_standard_split(shipped):
    assert (len(shipped.train), len(shipped.valid), len(shipped.test)) == (229, 76, 77)
    assert shipped.names["train"][0] == "chorale_000.csv"
    assert shipped.names["test"][0] == "chorale_305.csv"
    lengths = [len(c) for s in ("train", "valid", "test") for c in shipped.split(s)]
    assert min(lengths) == 100 and max(lengths) == 640
    notes = np.unique(np.concatenate([np.concatenate(shipped.split(s)) for s in
                                      ("train", "valid", "test")]))
    assert len(notes) == N_CLASSES and notes[1] == 36 and notes[-1] == 81  # 0 + 46 notes
    assert shipped.train[0][0].tolist() == [74, 70, 65, 58]
    assert shipped.voice_ranges("train").tolist() == [[60, 81], [52, 74], [46, 69], [36, 66]]


def test_arpeggio_windows_follow_the_textbook(shipped):
    x, y = arpeggio_windows(shipped.train)
    expected = sum((len(c) - 33) // 16 + 1 for c in shipped.train if len(c) >= 33)
    assert x.shape == y.shape == (expected, 131)
    assert x.shape[0] == 3111  # the textbook's count of training windows
    first = to_classes(shipped.train[0][:33]).reshape(-1)
    assert np.array_equal(x[0], first[:-1]) and np.array_equal(y[0], first[1:])
    second = to_classes(shipped.train[0][16:49]).reshape(-1)
    assert np.array_equal(x[1], second[:-1])
    assert x.min() == 0 and x.max() <= 46


def test_classes_shift_notes_and_keep_silence():
    assert to_classes(np.array([[0, 36, 81, 60]])).tolist() == [[0, 1, 46, 25]]
    assert np.array_equal(from_classes(to_classes(SMALL)), SMALL)


def test_csv_round_trip_and_a_users_folder(tmp_path):
    write_chorale(tmp_path / "train" / "a.csv", SMALL)
    write_chorale(tmp_path / "test" / "b.csv", SMALL[:3])
    assert (tmp_path / "train" / "a.csv").read_text().splitlines()[:2] == [
        "note0,note1,note2,note3", "74,70,65,58"]
    data = load_chorales(tmp_path)
    assert np.array_equal(data.train[0], SMALL) and data.valid == []
    assert data.names["test"] == ["b.csv"]
    loose = tmp_path / "loose"
    write_chorale(loose / "c.csv", SMALL)
    assert np.array_equal(load_chorales(loose).test[0], SMALL)  # CSVs directly: all test


@pytest.mark.parametrize(("text", "match"), [
    ("a,b,c,d\n60,60,60,60\n", r"x\.csv, line 1: the header must be note0,note1"),
    ("note0,note1,note2,note3\n60,60,60\n", r"x\.csv, line 2: 4 notes .* got 3"),
    ("note0,note1,note2,note3\n60,60,60,60\n60,6x,60,60\n",
     r"x\.csv, line 3, voice alto \(note1\): '6x' is not a whole MIDI note number"),
    ("note0,note1,note2,note3\n60,60,60.5,60\n", r"line 2, voice tenor .*'60.5'"),
    ("note0,note1,note2,note3\n60,60,60,20\n", r"line 2, voice bass .*note 20 is outside 36\.\.81"),
    ("note0,note1,note2,note3\n", r"x\.csv: no steps"),
])
def test_invalid_csvs_name_file_line_and_voice(tmp_path, text, match):
    path = tmp_path / "x.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        read_chorale(path)


def test_check_chorale_and_folder_errors(tmp_path):
    with pytest.raises(DataError, match=r"\[steps, 4\]"):
        check_chorale(np.zeros((3, 3)))
    with pytest.raises(DataError, match="step 1, voice soprano: note 90"):
        check_chorale([[60, 60, 60, 60], [90, 60, 60, 60]])
    assert check_chorale([[90, 0, 0, 0]], note_range=(1, 127)).dtype == np.int64
    with pytest.raises(DataError, match="not a folder"):
        load_chorales(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no chorale CSV files"):
        load_chorales(tmp_path / "empty")


def test_midi_round_trip_is_exact_and_has_a_track_per_voice(tmp_path):
    mido = pytest.importorskip("mido")
    chorale = np.concatenate([SMALL, SMALL[::-1], [[0, 0, 0, 0]]])
    path = write_midi(tmp_path / "c.mid", chorale, bpm=90)
    back = read_midi(path)
    assert np.array_equal(back, chorale)
    song = mido.MidiFile(path)
    assert song.type == 1 and len(song.tracks) == 5
    assert [t.name for t in song.tracks] == ["chorale", "soprano", "alto", "tenor", "bass"]
    tempo = [m.tempo for m in song.tracks[0] if m.type == "set_tempo"]
    assert tempo == [mido.bpm2tempo(90)]
    soprano = [(m.type, m.note) for m in song.tracks[1] if m.type.startswith("note")]
    # 74 held 2 steps, 75, rest, 72 ... : one note per run
    assert soprano[:4] == [("note_on", 74), ("note_off", 74), ("note_on", 75),
                           ("note_off", 75)]


def test_read_midi_quantises_to_sixteenths_and_refuses_bad_files(tmp_path):
    mido = pytest.importorskip("mido")
    song = mido.MidiFile(type=1, ticks_per_beat=96)
    for note in (72, 67, 64, 48):
        track = mido.MidiTrack()
        # a quarter note played slightly late and short: 26 ticks late, 70 ticks long
        track += [mido.Message("note_on", note=note, velocity=64, time=2),
                  mido.Message("note_off", note=note, velocity=0, time=92)]
        song.tracks.append(track)
    song.save(tmp_path / "q.mid")
    assert read_midi(tmp_path / "q.mid").tolist() == [[72, 67, 64, 48]] * 4
    (tmp_path / "bad.mid").write_bytes(b"not midi")
    with pytest.raises(DataError, match="not a readable MIDI file"):
        read_midi(tmp_path / "bad.mid")
    three = mido.MidiFile(type=1)
    three.tracks = song.tracks[:3]
    three.save(tmp_path / "three.mid")
    with pytest.raises(DataError, match="3 voices with notes .* expected 4"):
        read_midi(tmp_path / "three.mid")
    assert midi_bytes(SMALL)[:4] == b"MThd"
