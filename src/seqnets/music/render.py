"""Make chorales audible and visible: a WAV rendering by a small additive synthesiser (no
sound font), and a piano-roll PNG with the seed and the generated part marked.

The synthesiser gives each voice's held note (a run of equal steps) a fundamental and five
harmonics of falling strength, each doubled by a quieter copy detuned by 0.3% (a slow
beating that warms the tone), a short attack and release (no clicks between notes) and a
gentle decay; it mixes the four voices, normalised to a peak of 0.8 of full scale; 16-bit
mono PCM. A chorale of ``n`` steps lasts exactly ``n * step_seconds`` (to the sample).
"""

from __future__ import annotations

import io
import os
import wave
from pathlib import Path

import numpy as np

from ..checks import positive_int, positive_number
from ..data.chorale_midi import DEFAULT_BPM, step_seconds
from ..data.chorales import VOICES, check_chorale
from ..data.files import atomic_write
from ..errors import ConfigError

__all__ = ["piano_roll_png", "render_audio", "write_piano_roll", "write_wav"]

HARMONICS = (1.0, 0.5, 0.3, 0.18, 0.1, 0.06)
VOICE_GAIN = (1.0, 0.8, 0.8, 0.9)  # the melody and the bass a little forward
ATTACK, RELEASE = 0.012, 0.04  # seconds


def _runs(voice: np.ndarray) -> list[tuple[int, int, int]]:
    out, start = [], 0
    for t in range(1, len(voice) + 1):
        if t == len(voice) or voice[t] != voice[start]:
            if voice[start] != 0:
                out.append((int(voice[start]), start, t))
            start = t
    return out


def render_audio(chorale: object, bpm: float = DEFAULT_BPM,
                 sample_rate: int = 22050) -> np.ndarray:
    """The chorale as float32 samples in ``[-1, 1]``, ``round(steps * step_seconds * sr)``
    of them."""
    arr = check_chorale(chorale, "chorale", note_range=(1, 127))
    sr = positive_int(sample_rate, "sample_rate")
    step = step_seconds(bpm)
    total = round(len(arr) * step * sr)
    out = np.zeros(total, dtype=np.float64)
    for v in range(4):
        for note, first, end in _runs(arr[:, v]):
            a, b = round(first * step * sr), min(round(end * step * sr), total)
            n = b - a
            if n <= 0:
                continue
            t = np.arange(n) / sr
            freq = 440.0 * 2.0 ** ((note - 69) / 12)
            tone = np.zeros(n)
            for h, amp in enumerate(HARMONICS, start=1):
                if h * freq < sr / 2:  # no aliasing
                    tone += amp * (np.sin(2 * np.pi * h * freq * t)
                                   + 0.5 * np.sin(2 * np.pi * h * freq * 1.003 * t))
            env = np.ones(n)
            rise, fall = min(n // 2, int(ATTACK * sr)), min(n // 2, int(RELEASE * sr))
            if rise:
                env[:rise] = np.linspace(0.0, 1.0, rise, endpoint=False)
            if fall:
                env[n - fall:] *= np.linspace(1.0, 0.0, fall)
            env *= np.exp(-0.4 * t)  # a gentle decay over a held note
            out[a:b] += VOICE_GAIN[v] * tone * env
    peak = np.abs(out).max()
    if peak > 0:
        out *= 0.8 / peak
    return out.astype(np.float32)


def wav_bytes(samples: np.ndarray, sample_rate: int = 22050) -> bytes:
    """16-bit mono PCM WAV of float samples in ``[-1, 1]``."""
    pcm = (np.clip(np.asarray(samples, dtype=np.float64), -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(positive_int(sample_rate, "sample_rate"))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def write_wav(path: str | os.PathLike, chorale: object, bpm: float = DEFAULT_BPM,
              sample_rate: int = 22050) -> Path:
    """Render ``chorale`` and write it as a WAV file, atomically; returns the path."""
    return atomic_write(path, wav_bytes(render_audio(chorale, bpm, sample_rate), sample_rate))


COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd")


def piano_roll_png(chorale: object, seed_chords: int = 0, title: str | None = None,
                   dpi: int = 110) -> bytes:
    """A piano roll of the chorale as PNG bytes: one colour per voice, the seed chords
    shaded and a line where the generated part begins. Needs matplotlib
    (``pip install "seqnets[plot]"``)."""
    arr = check_chorale(chorale, "chorale", note_range=(1, 127))
    if not 0 <= seed_chords <= len(arr):
        raise ConfigError(f"seed_chords must be in 0..{len(arr)}, got {seed_chords}")
    positive_number(dpi, "dpi")
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError('a piano roll needs matplotlib: pip install "seqnets[plot]"') from None
    fig = Figure(figsize=(max(6.0, min(20.0, len(arr) / 12)), 4.2), dpi=dpi)
    ax = fig.add_subplot()
    for v in range(4):
        for note, first, end in _runs(arr[:, v]):
            ax.broken_barh([(first, end - first)], (note - 0.4, 0.8), facecolors=COLOURS[v],
                           label=VOICES[v] if first == _first(arr[:, v]) else None)
    sounding = arr[arr > 0]
    lo, hi = (int(sounding.min()), int(sounding.max())) if len(sounding) else (48, 72)
    ax.set_ylim(lo - 2, hi + 2)
    ax.set_xlim(0, len(arr))
    if seed_chords:
        ax.axvspan(0, seed_chords, color="0.85", zorder=0)
        ax.axvline(seed_chords, color="k", lw=1.2, ls="--")
        ax.text(seed_chords / 2, hi + 1.2, "seed", ha="center", va="center", fontsize=9)
        ax.text((seed_chords + len(arr)) / 2, hi + 1.2, "generated", ha="center",
                va="center", fontsize=9)
    ax.set_xlabel("step (sixteenth notes)")
    ax.set_ylabel("MIDI note")
    ax.legend(loc="lower right", fontsize=8, ncol=4)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _first(voice: np.ndarray) -> int:
    sounding = np.flatnonzero(voice)
    return int(sounding[0]) if len(sounding) else -1


def write_piano_roll(path: str | os.PathLike, chorale: object, seed_chords: int = 0,
                     title: str | None = None) -> Path:
    """Write :func:`piano_roll_png` to ``path``, atomically; returns the path."""
    return atomic_write(path, piano_roll_png(chorale, seed_chords, title))
