"""``seqnets reproduce | demo | bench | zoo | native``: the chapter's experiments, their speed,
the model zoo and the native loops."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import textwrap
import warnings

from .common import names, seeds

# `seqnets reproduce` with its defaults (22 rows, 20 epochs, 3 seeds) took 886 s on this
# project's 2-core x86_64 machine (benchmarks/results/chapter/results.json).
FULL_RUN_TIME = "about 15 minutes on 2 cores"


def _fill(text: str, indent: str = "") -> str:
    """``text`` wrapped at 100 columns, never inside a `command`."""
    keep = re.sub(r"`[^`]*`", lambda m: m[0].replace(" ", "\xa0"), text)
    return textwrap.fill(keep, 100, initial_indent=indent,
                         subsequent_indent=indent).replace("\xa0", " ")


def reproduce(args: argparse.Namespace) -> int:
    from ..chapter import experiments, verdicts
    from ..chapter import reproduce as chapter
    from ..chapter.runs import Stopped

    quick = args.quick
    only = names(args.only) or (verdicts.QUICK if quick else None)
    run_seeds = args.seeds or ([42] if quick else [42, 7, 1])
    epochs = args.epochs if args.epochs is not None else (
        verdicts.QUICK_EPOCHS if quick else verdicts.CHAPTER_EPOCHS)
    command = "seqnets " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"Training {len(only) if only else 'all'} experiments, seeds {run_seeds}, "
          f"{epochs} epochs -> {args.out}/", flush=True)
    try:
        results = chapter.reproduce(only, run_seeds, epochs, args.out, args.workers,
                                    plots=not args.no_plots, command=command,
                                    log=lambda line: print(line, flush=True), fresh=args.fresh)
    except Stopped as stop:  # the workers are stopped and waited for; say how to continue
        print(f"seqnets {args.command_name}: {stop}", file=sys.stderr, flush=True)
        return stop.exit_code
    print()
    print(chapter.table(results["summary"]))
    for note in chapter.bar_notes(results["summary"]):
        print(_fill(note))
    print(f"\n{verdicts.story_heading(epochs)}:" if epochs != verdicts.CHAPTER_EPOCHS else "")
    for line in verdicts.story_lines(results["story"]):
        print(f"  {line}")
    note = verdicts.story_note(results["story_not_checked"], epochs)
    if note:
        print(_fill(note, "  "))
    out = args.out.rstrip("/")
    print(f"\nWall time {results['settings']['wall_seconds']:.0f} s. Files in {out}/:")
    print("  report.md      the table and the story, in Markdown")
    print("  results.json   every run: scores, per-epoch history, forecasts, settings")
    if results["figures"]:
        print(f"  figures        {', '.join(results['figures'])}")
    if quick:
        rows, full = len(experiments.CORE + experiments.IMPROVED_ROWS), verdicts.CHAPTER_EPOCHS
        print("Next:")
        print(f"  seqnets reproduce   the chapter's protocol: {rows} rows, {full} epochs, "
              "seeds 42,7,1,\n                      judged against the chapter's bars "
              f"({FULL_RUN_TIME})")
        print("  seqnets zoo         every model of the chapter, with its parameter count")
        print("  seqnets train --dataset co2_weekly --out fc/   then   "
              "seqnets forecast fc/ --out forecast.csv")
        print("                      fit a forecaster to weekly CO2 at Mauna Loa, then "
              "forecast it with intervals")
    return 0


def bench(args: argparse.Namespace) -> int:
    from ..chapter.bench import run, table
    from ..io import atomic_write_text

    results = run(names(args.only), epochs=args.epochs, seed=args.seed,
                  keras_python=args.vs_keras, keras_script=args.keras_script,
                  log=lambda line: print(line, flush=True), repeats=args.repeats)
    print()
    print(table(results))
    if args.out:
        atomic_write_text(args.out, json.dumps(results, indent=1) + "\n")
        print(f"\nResults: {args.out}")
    return 0


def zoo(args: argparse.Namespace) -> int:
    from ..models import zoo

    if args.name:
        zoo.build(args.name, seed=0).summary()
        return 0
    for name in zoo.names():
        entry = zoo.info(name)
        params = zoo.build(name, seed=0).count_params()
        print(f"{name:22s} {entry.task:10s} {params:>7,}  {entry.description}")
    return 0


def native(args: argparse.Namespace) -> int:
    from ..layers.ops import native

    if not native.enabled():
        print("seqnets: the native loops are turned off (SEQNETS_NATIVE=0)")
        return 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ops = native.library(retry=True)
    if ops is None:
        reason = str(caught[0].message) if caught else "unavailable"
        print(f"seqnets: error: {reason}", file=sys.stderr)
        return 1
    folder = native.cache_dir() / native.library_name()
    print(f"seqnets: native loops ready in {folder}")
    return 0


def add_commands(sub) -> None:
    """The chapter group's subcommands, each with ``func`` set to its function above."""
    for name, quick, help_text in (
        ("reproduce", False, "train and evaluate the chapter's experiments, with a report"),
        ("demo", True, "a quick reproduction (10 experiments, 1 seed, 10 epochs, judged against "
                       "what 10 epochs reach; about half a minute)"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--seeds", type=seeds, default=None,
                       help="comma-separated seeds (default: 42,7,1; demo: 42)")
        p.add_argument("--epochs", type=int, default=None,
                       help="epochs per model (default: 20; demo: 10)")
        p.add_argument("--only", default=None, help="comma-separated experiment names")
        p.add_argument("--quick", action="store_true", default=quick,
                       help="the demo's short run")
        p.add_argument("--out", default="seqnets-demo" if quick else "reproduce-results",
                       help="output folder")
        p.add_argument("--workers", type=int, default=None,
                       help="parallel processes (default: one per core)")
        p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
        p.add_argument("--fresh", action="store_true",
                       help="discard the finished runs kept in --out (runs/) and start over; "
                            "by default a rerun skips them")
        p.set_defaults(func=reproduce, command_name=name)
    b = sub.add_parser("bench", help="speed and memory of the zoo's models (optionally vs Keras)")
    b.add_argument("--only", default=None, help="comma-separated model names")
    b.add_argument("--epochs", type=int, default=3, help="epochs per model (first excluded)")
    b.add_argument("--seed", type=int, default=42)
    b.add_argument("--repeats", type=int, default=1, help="measure each model this many "
                   "times (alternating with Keras) and report medians (default 1)")
    b.add_argument("--vs-keras", metavar="PYTHON", default=None,
                   help="a Python with tensorflow-cpu: run the same experiments in Keras")
    b.add_argument("--keras-script", default=None,
                   help="path of keras_ch15.py (default: ../shared/peers/ beside the checkout)")
    b.add_argument("--out", default="bench-results.json", help="JSON output file")
    b.set_defaults(func=bench)
    n = sub.add_parser("native", help="build the native loops now (else they build "
                       "on first use) and say where they are; for images and offline machines")
    n.set_defaults(func=native)
    z = sub.add_parser("zoo", help="list the model zoo, or print one model's summary")
    z.add_argument("name", nargs="?", help="a model name")
    z.set_defaults(func=zoo)
