"""The ``seqnets`` command: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

from .errors import SeqnetsError


def _names(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be integers separated by commas, "
                                         f"got {text!r}") from None


def _reproduce(args: argparse.Namespace, quick: bool) -> int:
    from .reproduce import QUICK, QUICK_EPOCHS, reproduce, table

    names = _names(args.only) or (QUICK if quick else None)
    seeds = args.seeds or ([42] if quick else [42, 7, 1])
    epochs = args.epochs or (QUICK_EPOCHS if quick else 20)
    command = "seqnets " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"Training {len(names) if names else 'all'} experiments, seeds {seeds}, "
          f"{epochs} epochs -> {args.out}/", flush=True)
    results = reproduce(names, seeds, epochs, args.out, args.workers, plots=not args.no_plots,
                        command=command, log=lambda line: print(line, flush=True))
    print()
    print(table(results["summary"]))
    print()
    for check in results["story"]:
        print(f"  {check['better']} beats {check['worse']}: {'yes' if check['holds'] else 'NO'}")
    wall = results["settings"]["wall_seconds"]
    print(f"\nWall time {wall:.0f} s. Report: {args.out}/report.md, results: "
          f"{args.out}/results.json")
    return 0


def _bench(args: argparse.Namespace) -> int:
    import json

    from .bench import run, table
    from .io import atomic_write_text

    results = run(_names(args.only), epochs=args.epochs, seed=args.seed,
                  keras_python=args.vs_keras, keras_script=args.keras_script,
                  log=lambda line: print(line, flush=True))
    text = table(results)
    print()
    print(text)
    if args.out:
        atomic_write_text(args.out, json.dumps(results, indent=1) + "\n")
        print(f"\nResults: {args.out}")
    return 0


def _zoo(args: argparse.Namespace) -> int:
    from .models import zoo

    if args.name:
        zoo.build(args.name, seed=0).summary()
        return 0
    for name in zoo.names():
        entry = zoo.info(name)
        params = zoo.build(name, seed=0).count_params()
        print(f"{name:22s} {entry.task:10s} {params:>7,}  {entry.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqnets", description="Sequence models with RNNs and CNNs on PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, quick, help_text in (
        ("reproduce", False, "train and evaluate the chapter's experiments, with a report"),
        ("demo", True, "a quick reproduction (1 seed, 5 epochs, 10 experiments; ~2 min)"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--seeds", type=_seeds, default=None,
                       help="comma-separated seeds (default: 42,7,1; demo: 42)")
        p.add_argument("--epochs", type=int, default=None,
                       help="epochs per model (default: 20; demo: 5)")
        p.add_argument("--only", default=None, help="comma-separated experiment names")
        p.add_argument("--quick", action="store_true", default=quick,
                       help="the demo's short run")
        p.add_argument("--out", default="seqnets-demo" if quick else "reproduce-results",
                       help="output folder")
        p.add_argument("--workers", type=int, default=None,
                       help="parallel processes (default: one per core)")
        p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    b = sub.add_parser("bench", help="speed and memory of the zoo's models (optionally vs Keras)")
    b.add_argument("--only", default=None, help="comma-separated model names")
    b.add_argument("--epochs", type=int, default=3, help="epochs per model (first excluded)")
    b.add_argument("--seed", type=int, default=42)
    b.add_argument("--vs-keras", metavar="PYTHON", default=None,
                   help="a Python with tensorflow-cpu: run the same experiments in Keras")
    b.add_argument("--keras-script", default=None,
                   help="path of keras_ch15.py (default: ../shared/peers/ beside the checkout)")
    b.add_argument("--out", default="bench-results.json", help="JSON output file")
    z = sub.add_parser("zoo", help="list the model zoo, or print one model's summary")
    z.add_argument("name", nargs="?", help="a model name")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command in ("reproduce", "demo"):
            return _reproduce(args, quick=args.quick)
        if args.command == "zoo":
            return _zoo(args)
        if args.command == "bench":
            return _bench(args)
    except SeqnetsError as err:
        print(f"seqnets: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seqnets: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
