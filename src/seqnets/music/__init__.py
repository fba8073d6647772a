"""Bach chorales: compose with next-note models, render, and measure how Bach-like.

    import seqnets as sn
    from seqnets.music import generate, train_chorales, write_chorale_files

    model, report = train_chorales("chorale_cnn_lstm", epochs=20, seed=42)
    data = sn.data.load_chorales()
    chorale = generate(model, [data.test[2][:8]], chords=56, temperature=0.8, seed=1,
                       voice_ranges=report["voice_ranges"])[0]
    write_chorale_files(chorale, 8, midi="bach.mid", wav="bach.wav", png="bach.png")

The models live in the zoo (``chorale_cnn_lstm``, the textbook's; ``chorale_beat_lstm``);
the data, CSV and MIDI files in :mod:`seqnets.data.chorales` and
:mod:`seqnets.data.chorale_midi`.
"""

from .generate import allowed_classes, generate
from .render import piano_roll_png, render_audio, write_piano_roll, write_wav
from .stats import chorale_statistics, compare, table
from .stepper import Stepper
from .workflow import (
    chorale_models,
    evaluate_chorales,
    load_chorale_model,
    save_chorale_model,
    train_chorales,
    write_chorale_files,
)

__all__ = ["Stepper", "allowed_classes", "chorale_models", "chorale_statistics", "compare",
           "evaluate_chorales", "generate", "load_chorale_model", "piano_roll_png",
           "render_audio", "save_chorale_model", "table", "train_chorales", "write_chorale_files",
           "write_piano_roll", "write_wav"]
