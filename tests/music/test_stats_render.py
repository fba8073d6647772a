"""Bach-likeness statistics on a chorale counted by hand; WAV length and PNG output."""

from __future__ import annotations

import io
import json
import wave

import numpy as np
import pytest

from seqnets.data.chorale_midi import step_seconds
from seqnets.music.render import piano_roll_png, render_audio, write_wav
from seqnets.music.stats import chorale_statistics, compare, table

HAND = np.array([
    [72, 67, 64, 48],
    [72, 67, 64, 48],  # repeated
    [74, 69, 65, 50],  # all up: S-B octave to octave, A-B fifth to fifth (compound)
    [60, 69, 65, 50],  # soprano under alto: a crossing
    [66, 69, 65, 50],  # F#: the one note outside C major; still crossed
])


def test_statistics_by_hand():
    s = chorale_statistics([HAND], reference=[HAND])
    assert s["chorales"] == 1 and s["steps"] == 5
    assert s["pitch_class_distance"] == 0.0
    assert s["range_soprano"] == [60, 74] and s["range_bass"] == [48, 50]
    assert s["voice_crossing"] == pytest.approx(2 / 5)
    assert s["parallel_fifths"] == pytest.approx(1 / 3)  # 3 chord changes
    assert s["parallel_octaves"] == pytest.approx(1 / 3)
    assert s["repeated_chords"] == pytest.approx(1 / 4)
    assert s["out_of_key"] == pytest.approx(1 / 20)
    other = chorale_statistics([HAND], reference=[np.full((2, 4), 61)])
    assert other["pitch_class_distance"] == pytest.approx(1.0)  # disjoint pitch classes


def test_contrary_motion_and_rests_are_not_parallels():
    c = np.array([[72, 0, 0, 65], [74, 0, 0, 60], [79, 0, 0, 72], [0, 0, 0, 74]])
    s = chorale_statistics([c])
    # 72/65 -> 74/60 contrary; 74/60 -> 79/72 from a major 2nd (14) to a 7th: no parallels
    assert s["parallel_fifths"] == 0 and s["parallel_octaves"] == 0
    assert "pitch_class_distance" not in s


def test_table_and_json():
    rows = compare({"hand": [HAND], "again": [HAND, HAND]}, reference=[HAND])
    text = table(rows)
    assert text.splitlines()[0].startswith("| set | chorales | pitch-class dist.")
    assert "| hand | 1 | 0.000 | 60-74 |" in text and "| again | 2 |" in text
    assert json.loads(json.dumps(rows))["again"]["chorales"] == 2


def test_wav_lasts_steps_times_step_duration(tmp_path):
    chorale = np.concatenate([HAND] * 3)
    samples = render_audio(chorale, bpm=120, sample_rate=8000)
    assert len(samples) == round(15 * step_seconds(120) * 8000) == 15 * 1000
    assert 0.75 < np.abs(samples).max() <= 0.8 + 1e-6
    path = write_wav(tmp_path / "c.wav", chorale, bpm=120, sample_rate=8000)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        assert w.getnframes() / w.getframerate() == pytest.approx(15 * 0.125)
    # a note's fundamental is there: 440 Hz for A4 held over the whole clip
    a4 = render_audio(np.full((16, 4), 69), bpm=60, sample_rate=8000)
    spectrum = np.abs(np.fft.rfft(a4))
    assert np.argmax(spectrum) * 8000 / len(a4) == pytest.approx(440, abs=2)
    silent = render_audio(np.zeros((4, 4), dtype=int), sample_rate=8000)
    assert len(silent) == 4 * 1200 and not silent.any()


def test_piano_roll_png():
    pytest.importorskip("matplotlib")
    png = piano_roll_png(np.concatenate([HAND] * 4), seed_chords=5, title="t")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib import image

    assert image.imread(io.BytesIO(png)).shape[2] in (3, 4)
