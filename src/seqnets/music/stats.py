"""How Bach-like is a set of chorales: measured statistics, comparable across sets.

    rows = compare({"test": data.test, "generated": chorales}, reference=data.train)
    print(table(rows))                      # Markdown; json.dumps(rows) for the JSON

Per set (chorales ``[steps, 4]`` of MIDI notes, 0 = silence):

- ``pitch_class_distance``: total-variation distance (0 = the same, 1 = disjoint) between
  the set's pitch-class histogram (every sounding note, modulo 12) and the reference's;
- ``range_<voice>``: the lowest and highest note each voice sounds;
- ``voice_crossing``: share of chords in which a voice sounds below the voice under it
  (alto below tenor, ...), among adjacent pairs both sounding;
- ``parallel_fifths`` / ``parallel_octaves``: per chord change, the number of voice pairs
  that move in the same direction from a perfect fifth to a perfect fifth (or octave or
  unison to octave or unison), compound intervals included;
- ``repeated_chords``: share of steps whose chord equals the step before (a held chord at
  sixteenth-note resolution counts as repeated: Bach's are at 0.62-0.64);
- ``out_of_key``: share of notes outside the major scale (7 pitch classes) that holds most
  of the chorale's notes (its key, or the relative major of a minor key: a raised leading
  tone counts as outside).
"""

from __future__ import annotations

import numpy as np

from ..data.chorales import VOICES, check_chorale
from ..errors import DataError

__all__ = ["chorale_statistics", "compare", "table"]

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
PAIRS = [(a, b) for a in range(4) for b in range(a + 1, 4)]


def _pitch_histogram(chorales: list[np.ndarray]) -> np.ndarray:
    counts = np.zeros(12)
    for c in chorales:
        notes = c[c > 0]
        counts += np.bincount(notes % 12, minlength=12)
    total = counts.sum()
    return counts / total if total else counts


def _out_of_key(chorale: np.ndarray) -> tuple[int, int]:
    notes = chorale[chorale > 0] % 12
    if not len(notes):
        return 0, 0
    counts = np.bincount(notes, minlength=12)
    inside = max(int(counts[(MAJOR + tonic) % 12].sum()) for tonic in range(12))
    return len(notes) - inside, len(notes)


def _parallels(chorale: np.ndarray) -> tuple[int, int, int]:
    """(fifths, octaves, chord changes)."""
    fifths = octaves = changes = 0
    for prev, cur in zip(chorale[:-1], chorale[1:], strict=True):
        if np.array_equal(prev, cur):
            continue
        changes += 1
        for a, b in PAIRS:
            if min(prev[a], prev[b], cur[a], cur[b]) == 0:
                continue
            move_a, move_b = int(cur[a]) - int(prev[a]), int(cur[b]) - int(prev[b])
            if move_a == 0 or move_b == 0 or (move_a > 0) != (move_b > 0):
                continue
            before, after = abs(int(prev[a]) - int(prev[b])) % 12, \
                abs(int(cur[a]) - int(cur[b])) % 12
            fifths += before == 7 and after == 7
            octaves += before == 0 and after == 0
    return fifths, octaves, changes


def chorale_statistics(chorales: list[np.ndarray] | np.ndarray,
                       reference: list[np.ndarray] | np.ndarray | None = None) -> dict:
    """The statistics of the module docstring for one set of chorales (a dict of floats;
    ranges as ``[low, high]``); ``pitch_class_distance`` only with a ``reference``."""
    items = [check_chorale(c, f"chorale {i}", note_range=(1, 127))
             for i, c in enumerate(chorales)]
    if not items:
        raise DataError("statistics need at least one chorale")
    out: dict = {"chorales": len(items), "steps": int(sum(len(c) for c in items))}
    if reference is not None:
        ref = [check_chorale(c, f"reference chorale {i}", note_range=(1, 127))
               for i, c in enumerate(reference)]
        out["pitch_class_distance"] = float(
            0.5 * np.abs(_pitch_histogram(items) - _pitch_histogram(ref)).sum())
    for v, name in enumerate(VOICES):
        sounding = np.concatenate([c[:, v][c[:, v] > 0] for c in items])
        out[f"range_{name}"] = [int(sounding.min()), int(sounding.max())] if len(sounding) \
            else None
    crossed = chords = 0
    for c in items:
        both = [(c[:, u] > 0) & (c[:, u + 1] > 0) for u in range(3)]
        below = [both[u] & (c[:, u] < c[:, u + 1]) for u in range(3)]
        crossed += int(np.logical_or.reduce(below).sum())
        chords += int(np.logical_or.reduce(both).sum())
    out["voice_crossing"] = crossed / chords if chords else 0.0
    fifths = octaves = changes = 0
    repeated = steps = outside = notes = 0
    for c in items:
        f, o, n = _parallels(c)
        fifths, octaves, changes = fifths + f, octaves + o, changes + n
        repeated += int(np.all(c[1:] == c[:-1], axis=1).sum())
        steps += len(c) - 1
        k, m = _out_of_key(c)
        outside, notes = outside + k, notes + m
    out["parallel_fifths"] = fifths / changes if changes else 0.0
    out["parallel_octaves"] = octaves / changes if changes else 0.0
    out["repeated_chords"] = repeated / steps if steps else 0.0
    out["out_of_key"] = outside / notes if notes else 0.0
    return out


def compare(sets: dict[str, list[np.ndarray]], reference: list[np.ndarray]) -> dict[str, dict]:
    """:func:`chorale_statistics` of each named set against one reference (the training
    chorales, say): ``{name: statistics}``."""
    return {name: chorale_statistics(chorales, reference) for name, chorales in sets.items()}


def table(rows: dict[str, dict]) -> str:
    """The statistics of :func:`compare` as a Markdown table, one row per set."""
    head = ["set", "chorales", "pitch-class dist.", *(f"{v} range" for v in VOICES),
            "voice crossing", "par. 5ths / change", "par. 8ves / change", "repeated chords",
            "out of key"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in rows.items():
        ranges = [f"{r[0]}-{r[1]}" if r else "-" for r in (s[f"range_{v}"] for v in VOICES)]
        dist = s.get("pitch_class_distance")
        cells = [name, str(s["chorales"]), "-" if dist is None else f"{dist:.3f}", *ranges,
                 f"{s['voice_crossing']:.3f}", f"{s['parallel_fifths']:.3f}",
                 f"{s['parallel_octaves']:.3f}", f"{s['repeated_chords']:.3f}",
                 f"{s['out_of_key']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
