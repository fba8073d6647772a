"""``seqnets chorales train | evaluate | generate | demo``: Bach chorales (seqnets.music)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..data.files import atomic_write
from ..errors import ConfigError
from .common import add_force, add_resume, check_out, resumable, save_on_main

DEMO_OPTIONS = {"units": 64, "bn_momentum": 0.9}  # small enough to train in about a minute


def _data(args: argparse.Namespace):
    from ..data.chorales import load_chorales

    return load_chorales(args.data) if args.data else load_chorales()


def _print_scores(report: dict) -> None:
    for split in ("valid", "test"):
        if split in report:
            s = report[split]
            voices = ", ".join(f"{v} {a:.3f}" for v, a in s["per_voice"].items())
            print(f"{split}: accuracy {s['accuracy']:.4f}, loss {s['loss']:.4f} "
                  f"({s['windows']} windows; per voice: {voices})")


def train(args: argparse.Namespace) -> int:
    from ..music import workflow

    if args.model not in workflow.chorale_models():
        raise ConfigError(f"--model {args.model!r} is not a chorale model; choose one of "
                          f"{workflow.chorale_models()}")
    check_out(args.out, folder=True, force=args.force)
    data = _data(args)
    print(f"Training {args.model} on {len(data.train)} chorales ({data.source}), "
          f"{args.epochs} epochs, seed {args.seed} -> {args.out}/", flush=True)
    with resumable(args, args.out):
        model, report = workflow.train_chorales(args.model, data, epochs=args.epochs,
                                                seed=args.seed, threads=args.threads,
                                                restore_best=not args.last_epoch,
                                                quiet=args.quiet)
        save_on_main(workflow.save_chorale_model, model, args.out, report,
                     overwrite=args.force)
    _print_scores(report)
    print(f"{report['epoch_seconds_median']:.1f} s per epoch (median); saved to {args.out}/")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from ..music import workflow

    check_out(args.json, force=args.force)
    model, meta = workflow.load_chorale_model(args.model_dir)
    data = _data(args)
    report = {split: workflow.evaluate_chorales(model, data.split(split), meta["window"],
                                                meta["shift"])
              for split in ("valid", "test") if data.split(split)}
    _print_scores(report)
    if args.json:
        atomic_write(args.json, (json.dumps({"model": meta["model"], **report}, indent=2)
                                 + "\n").encode())
    return 0


def generate(args: argparse.Namespace) -> int:
    from ..music import stats, workflow
    from ..music.generate import generate as compose

    outputs = [args.midi, args.wav, args.png, args.csv, args.stats]
    for path in outputs:
        check_out(path, force=args.force)
    if not any(outputs):
        raise ConfigError("nothing to write: give --midi, --wav, --png, --csv or --stats")
    if args.chords < 1 or args.seed_chords < 1 or args.count < 1:
        raise ConfigError("--chords, --seed-chords and --count must be positive")
    if args.temperature < 0:
        raise ConfigError(f"--temperature must be >= 0, got {args.temperature}")
    model, meta = workflow.load_chorale_model(args.model_dir)
    data = _data(args)
    seeds = workflow.seed_chorales(data, args.first, args.count, args.seed_chords)
    start = time.perf_counter()
    chorales = compose(model, seeds, args.chords, temperature=args.temperature,
                       top_k=args.top_k, seed=args.seed, voice_ranges=meta["voice_ranges"])
    seconds = time.perf_counter() - start
    print(f"Generated {args.count} chorale(s) of {args.chords} chords after "
          f"{args.seed_chords} seed chords in {seconds:.2f} s", flush=True)
    for i, chorale in enumerate(chorales):
        title = (f"{meta['model']}: test chorale {args.first + i}, seed chords "
                 f"0-{args.seed_chords - 1}, T={args.temperature}, seed {args.seed}")
        for path in workflow.write_chorale_files(
                chorale, args.seed_chords, title=title, bpm=args.bpm,
                **{k: workflow.numbered(getattr(args, k), i, args.count)
                   for k in ("midi", "wav", "png", "csv")}):
            print(f"  wrote {path}")
    if args.stats:
        rows = stats.compare({"test chorales": data.test,
                              "generated": [c[args.seed_chords:] for c in chorales]},
                             reference=data.train or data.test)
        print(stats.table(rows))
        atomic_write(args.stats, (json.dumps(rows, indent=2) + "\n").encode())
        print(f"  wrote {args.stats}")
    return 0


def demo(args: argparse.Namespace) -> int:
    from ..music import workflow
    from ..music.generate import generate as compose

    check_out(args.out, folder=True, force=True)  # a demo replaces its own outputs
    out = Path(args.out)
    start = time.perf_counter()
    print("Training a small chorale_cnn_lstm (LSTM of 64 units, 1,200 windows, 6 epochs) ...",
          flush=True)
    data = _data(args)
    model, report = workflow.train_chorales("chorale_cnn_lstm", data, epochs=6, seed=42,
                                            max_windows=1200, quiet=args.quiet,
                                            **DEMO_OPTIONS)
    _print_scores(report)
    seeds = workflow.seed_chorales(data, 2, 1, 8)
    chorale = compose(model, seeds, 56, temperature=0.8, seed=1,
                      voice_ranges=report["voice_ranges"])[0]
    workflow.save_chorale_model(model, out / "model", report, overwrite=True)
    paths = workflow.write_chorale_files(
        chorale, 8, midi=str(out / "chorale.mid"), wav=str(out / "chorale.wav"),
        png=str(out / "chorale.png"), csv=str(out / "chorale.csv"),
        title="demo: test chorale 2, 8 seed chords, 56 generated, T=0.8, seed 1")
    print(f"Done in {time.perf_counter() - start:.0f} s. Listen to {paths[2]}; the model is "
          f"in {out / 'model'}/")
    return 0


def add_commands(sub) -> None:
    """The ``chorales`` command group."""
    group = sub.add_parser("chorales", help="Bach chorales: train, evaluate, compose, listen")
    cmds = group.add_subparsers(dest="chorales_command", required=True)

    def data_flag(p):
        p.add_argument("--data", metavar="DIR", help="a folder of chorale CSVs in the "
                       "dataset's layout (train/, valid/, test/); default: the shipped JSB set")

    t = cmds.add_parser("train", help="train a next-note model and save it to a folder")
    t.add_argument("--model", default="chorale_cnn_lstm",
                   help="chorale_cnn_lstm (the textbook's, default) or chorale_beat_lstm")
    t.add_argument("--out", required=True, metavar="DIR")
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--seed", type=int, default=42)
    t.add_argument("--last-epoch", action="store_true",
                   help="keep the last epoch's weights, as the book does (default: the "
                   "epoch with the best validation accuracy)")
    t.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: seqnets' rule; 1 on a busy machine)")
    t.add_argument("--quiet", action="store_true")
    data_flag(t)
    add_force(t)
    add_resume(t)
    t.set_defaults(func=train)

    e = cmds.add_parser("evaluate", help="accuracy of a saved model, per voice too")
    e.add_argument("model_dir", metavar="DIR")
    e.add_argument("--json", metavar="FILE", help="write the scores as JSON")
    data_flag(e)
    add_force(e)
    e.set_defaults(func=evaluate)

    g = cmds.add_parser("generate", help="compose from the opening chords of test chorales")
    g.add_argument("model_dir", metavar="DIR")
    g.add_argument("--from", dest="first", type=int, default=2, metavar="N",
                   help="the test chorale whose opening is the seed (default 2)")
    g.add_argument("--count", type=int, default=1, help="chorales, from --from on, as one "
                   "batch (files get _000, _001, ... suffixes)")
    g.add_argument("--seed-chords", type=int, default=8, help="chords of the seed (default 8)")
    g.add_argument("--chords", type=int, default=56, help="chords to generate (default 56)")
    g.add_argument("--temperature", type=float, default=0.8, help="0 = greedy (default 0.8)")
    g.add_argument("--top-k", type=int, default=None)
    g.add_argument("--seed", type=int, default=1, help="sampling seed (default 1)")
    g.add_argument("--bpm", type=float, default=100.0, help="quarter notes a minute")
    for flag in ("midi", "wav", "png", "csv"):
        g.add_argument(f"--{flag}", metavar="FILE")
    g.add_argument("--stats", metavar="FILE", help="statistics against the test chorales "
                   "(JSON; the table is printed)")
    data_flag(g)
    add_force(g)
    g.set_defaults(func=generate)

    d = cmds.add_parser("demo", help="train a small model (about a minute), write one "
                        "listen-ready chorale (MIDI, WAV, PNG, CSV)")
    d.add_argument("--out", default="chorales_demo", metavar="DIR")
    d.add_argument("--quiet", action="store_true")
    data_flag(d)
    d.set_defaults(func=demo)
