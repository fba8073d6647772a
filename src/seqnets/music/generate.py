"""Compose: continue chorales note by note from a seed, several as one batch.

    chorales = generate(model, [data.test[2][:8]], chords=56, temperature=0.8, seed=1)
    chorales[0]            # [64, 4] MIDI notes: the 8 seed chords, then 56 new ones

Every note is drawn from the model's distribution over the 47 classes, restricted to the
notes its voice sounds in the training data (and silence): ``temperature`` 0 takes the most
likely one (greedy), otherwise the logits are divided by it before sampling; ``top_k``
keeps only the k most likely. Randomness comes from ``seed`` alone. The model runs
incrementally (:class:`~seqnets.music.stepper.Stepper`): the seed is fed once, then each new
note costs one step.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..checks import non_negative_int, positive_int
from ..data.chorales import LOWEST, N_CLASSES, check_chorale, from_classes, to_classes
from ..errors import ConfigError, DataError
from .stepper import Stepper

__all__ = ["allowed_classes", "generate"]


def allowed_classes(voice_ranges: np.ndarray | None, classes: int = N_CLASSES,
                    lowest: int = LOWEST) -> torch.Tensor:
    """``[4, classes]`` booleans: which classes each voice may take (silence always)."""
    allowed = torch.ones(4, classes, dtype=torch.bool)
    if voice_ranges is None:
        return allowed
    ranges = np.asarray(voice_ranges, dtype=np.int64)
    if ranges.shape != (4, 2):
        raise ConfigError(f"voice_ranges must be [4, 2] (lowest, highest note per voice), got "
                          f"shape {ranges.shape}")
    notes = torch.arange(classes) + lowest - 1  # the MIDI note of each class (class 0: none)
    for v, (lo, hi) in enumerate(ranges):
        allowed[v] = (notes >= int(lo)) & (notes <= int(hi))
        allowed[v, 0] = True
    return allowed


def _pick(logits: torch.Tensor, temperature: float, top_k: int | None,
          generator: torch.Generator) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits.double(), dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


@torch.no_grad()
def generate(model: nn.Module, seeds: list[np.ndarray] | np.ndarray, chords: int,
             temperature: float = 1.0, top_k: int | None = None, seed: int | None = None,
             voice_ranges: np.ndarray | None = None, lowest: int = LOWEST) -> np.ndarray:
    """Continue each seed chorale by ``chords`` chords, note by note.

    Args:
        model: a next-note model over arpeggios (``seqnets.zoo.build("chorale_cnn_lstm")``,
            trained), logits ``[B, T, classes]`` for note classes ``[B, T]``.
        seeds: the opening chords of each chorale, all of the same length: a list of
            ``[k, 4]`` arrays of MIDI notes (0 = silence), or one ``[B, k, 4]`` array.
        temperature: 0 for the most likely note every time, else the softmax temperature.
        top_k: sample among the ``top_k`` most likely notes only.
        seed: seeds the sampling (same seed, same chorales).
        voice_ranges: ``[4, 2]`` lowest and highest note of each voice; notes outside it
            are never chosen (None: any class).

    Returns:
        ``[B, k + chords, 4]`` int64 MIDI notes, the seed chords first.
    """
    positive_int(chords, "chords")
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) \
            or not 0 <= temperature < float("inf"):
        raise ConfigError(f"temperature must be a number >= 0, got {temperature!r}")
    if top_k is not None:
        positive_int(top_k, "top_k")
    seed_arr = [check_chorale(s, f"seed chorale {i}") for i, s in enumerate(seeds)]
    if not seed_arr:
        raise DataError("generate needs at least one seed chorale")
    if len({len(s) for s in seed_arr}) != 1:
        raise DataError(f"the seed chorales must have the same number of chords to be "
                        f"generated as one batch, got {sorted({len(s) for s in seed_arr})}")
    if seed is not None:
        non_negative_int(seed, "seed")
    generator = torch.Generator().manual_seed(
        seed if seed is not None else int(torch.randint(0, 2**62, (1,))))
    batch, k = len(seed_arr), len(seed_arr[0])
    notes = torch.from_numpy(np.stack([to_classes(s, lowest) for s in seed_arr])
                             .reshape(batch, -1))  # (B, 4k) arpeggio
    was_training = model.training
    stepper = Stepper(model, batch)
    try:
        classes = stepper.embedding.input_dim
        if int(notes.max()) >= classes:
            raise DataError(f"a seed note is above the model's {classes} classes")
        allowed = allowed_classes(voice_ranges, classes, lowest)
        logits = None
        for j in range(notes.shape[1]):  # the seed, fed once
            logits = stepper.step(notes[:, j])
        out = [notes]
        for j in range(4 * chords):
            voice = j % 4  # the seed ends with a whole chord: the next note is a soprano
            masked = logits.float().masked_fill(~allowed[voice], float("-inf"))
            nxt = _pick(masked, float(temperature), top_k, generator)
            out.append(nxt[:, None])
            if j < 4 * chords - 1:
                logits = stepper.step(nxt)
    finally:
        model.train(was_training)
    arp = torch.cat(out, dim=1).numpy()
    return from_classes(arp.reshape(batch, k + chords, 4), lowest)
