"""Chorales as MIDI files (through ``mido``: ``pip install "seqnets[music]"``).

Writing: a type-1 file, a tempo track, then one track per voice (soprano, alto, tenor, bass,
each on its own channel and named), quantised to sixteenth notes: a run of equal notes in a
voice is one held note, 0 is a rest. Reading: the note tracks in order become the voices
(a file with a single track is split by channel), note starts and ends rounded to the
nearest sixteenth; an overlap inside a voice keeps the newer note. A file written here
reads back into exactly the same array.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from ..checks import positive_int, positive_number
from ..errors import ConfigError, DataError
from .chorales import VOICES, check_chorale
from .files import atomic_write

__all__ = ["DEFAULT_BPM", "read_midi", "step_seconds", "write_midi"]

DEFAULT_BPM = 100.0  # quarter notes per minute: a sixteenth lasts 0.15 s
TICKS_PER_BEAT = 480
STEPS_PER_BEAT = 4  # sixteenth notes
PROGRAMS = (52, 52, 52, 52)  # General MIDI "Choir Aahs"
VELOCITY = 80


def step_seconds(bpm: float = DEFAULT_BPM) -> float:
    """How long one step (a sixteenth note) lasts at ``bpm`` quarter notes per minute."""
    return 60.0 / positive_number(bpm, "bpm") / STEPS_PER_BEAT


def _mido():
    try:
        import mido
    except ImportError:
        raise ConfigError('MIDI files need mido: pip install "seqnets[music]"') from None
    return mido


def _runs(voice: np.ndarray) -> list[tuple[int, int, int]]:
    """(note, first step, steps) for each run of equal non-zero notes."""
    out, start = [], 0
    for t in range(1, len(voice) + 1):
        if t == len(voice) or voice[t] != voice[start]:
            if voice[start] != 0:
                out.append((int(voice[start]), start, t - start))
            start = t
    return out


def midi_bytes(chorale: object, bpm: float = DEFAULT_BPM) -> bytes:
    """The MIDI file of ``chorale`` ``[steps, 4]`` as bytes."""
    mido = _mido()
    arr = check_chorale(chorale, "chorale", note_range=(1, 127))
    tempo = mido.bpm2tempo(positive_number(bpm, "bpm"))
    step = TICKS_PER_BEAT // STEPS_PER_BEAT
    song = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    song.tracks.append(mido.MidiTrack([
        mido.MetaMessage("track_name", name="chorale", time=0),
        mido.MetaMessage("set_tempo", tempo=tempo, time=0),
        mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
        mido.MetaMessage("end_of_track", time=len(arr) * step)]))
    for v, name in enumerate(VOICES):
        events = [(start * step, 1, "note_on", note) for note, start, _ in _runs(arr[:, v])]
        events += [((start + n) * step, 0, "note_off", note)
                   for note, start, n in _runs(arr[:, v])]
        events.sort()  # by time, note-offs first
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0),
                                mido.Message("program_change", channel=v, program=PROGRAMS[v],
                                             time=0)])
        now = 0
        for tick, _, kind, note in events:
            track.append(mido.Message(kind, channel=v, note=note,
                                      velocity=VELOCITY if kind == "note_on" else 0,
                                      time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=len(arr) * step - now))
        song.tracks.append(track)
    buf = io.BytesIO()
    song.save(file=buf)
    return buf.getvalue()


def write_midi(path: str | os.PathLike, chorale: object, bpm: float = DEFAULT_BPM) -> Path:
    """Write ``chorale`` as a MIDI file (one track per voice, ``bpm`` quarter notes a
    minute), atomically; returns the path."""
    return atomic_write(path, midi_bytes(chorale, bpm))


def read_midi(path: str | os.PathLike, voices: int = 4) -> np.ndarray:
    """A MIDI file as a chorale ``[steps, voices]`` quantised to sixteenth notes."""
    mido = _mido()
    positive_int(voices, "voices")
    path = Path(path)
    try:
        song = mido.MidiFile(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as err:  # noqa: BLE001 - mido's parser raises many kinds (KeySignatureError)
        raise DataError(f"{path}: not a readable MIDI file ({type(err).__name__}: "
                        f"{str(err)[:200]}). Fix: check that it is a complete .mid file, or "
                        "export it again") from None
    if song.type == 2:
        raise DataError(f"{path}: MIDI type 2 (independent songs) is not supported")
    if not isinstance(song.ticks_per_beat, int) or song.ticks_per_beat <= 0:
        raise DataError(f"{path}: the header's division is {song.ticks_per_beat} ticks per "
                        "beat; seqnets reads files timed in ticks per quarter note (a "
                        "positive count). Fix: re-export the file with a metrical time base")
    per_tick = STEPS_PER_BEAT / song.ticks_per_beat
    parts: list[list[tuple[int, int, int]]] = []  # per voice: (start tick, end tick, note)
    end_tick = 0
    for track in song.tracks:
        now = 0
        open_: dict[tuple[int, int], int] = {}
        by_channel: dict[int, list[tuple[int, int, int]]] = {}
        for msg in track:
            now += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                open_[(msg.channel, msg.note)] = now
            elif msg.type in ("note_off", "note_on"):
                start = open_.pop((msg.channel, msg.note), None)
                if start is not None:
                    by_channel.setdefault(msg.channel, []).append((start, now, msg.note))
        end_tick = max(end_tick, now)
        for channel in sorted(by_channel):
            parts.append(sorted(by_channel[channel]))
    if len(parts) != voices:
        raise DataError(f"{path}: {len(parts)} voices with notes (tracks, or channels of one "
                        f"track), expected {voices}: one per voice, soprano first")
    ends = [round(e * per_tick) for notes in parts for _, e, _ in notes]
    steps = max([round(end_tick * per_tick), *ends])
    if steps == 0:
        raise DataError(f"{path}: no notes and no length")
    out = np.zeros((steps, voices), dtype=np.int64)
    for v, notes in enumerate(parts):
        for start, end, note in notes:
            a, b = round(start * per_tick), round(end * per_tick)
            out[a:max(b, a + 1), v] = note
    return out
