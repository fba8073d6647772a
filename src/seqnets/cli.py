"""The ``seqnets`` command: a thin layer over the Python API.

    seqnets train --data sales.csv --id store --window 32 --horizon 8 --out fc/
    seqnets forecast fc/ --out forecast.csv --plot forecast.png
    seqnets backtest --data sales.csv --id store --folds 5 --out backtest.csv
    seqnets impute --data sales.csv --id store --out filled.csv

Errors seqnets raises on purpose (and unwritable paths) print ``seqnets: error: <message>``
and exit with 2, without a traceback. A failing run writes nothing: inputs and output paths
are checked first, and files are written atomically once the work is done.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import warnings
from collections.abc import Sequence

from .errors import ConfigError, SeqnetsError


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
                  log=lambda line: print(line, flush=True), repeats=args.repeats)
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


# ----------------------------------------------------------------------------- forecasting


def _levels(text: str) -> tuple[float, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"intervals must be levels such as 0.8,0.95 (or "
                                         f"'none'), got {text!r}") from None


def _check_out(path: str | None, folder: bool = False) -> None:
    """Refuse an output path of the wrong kind before any work (and any writing) starts."""
    from pathlib import Path

    if path is None:
        return
    p = Path(path)
    if folder and p.exists() and not p.is_dir():
        raise ConfigError(f"--out {path} is a file; a Forecaster is saved as a folder")
    if not folder and p.is_dir():
        raise ConfigError(f"{path} is a folder; give a file name (e.g. {p / 'out.csv'})")


def _source(args: argparse.Namespace, fill: bool = True) -> tuple:
    """(data, read options): the --data file, or a shipped dataset (--dataset, by default
    the first one) read with fill='interpolate' when it has missing values."""
    from .data import dataset_info, dataset_names, load_dataset

    options = {"time": args.time, "target": args.target, "id": args.id}
    covariates = _names(getattr(args, "covariates", None))
    if covariates:
        options["covariates"] = covariates
    if fill:
        options["fill"] = args.fill
    if args.data is not None:
        options |= _repairs(args)
        if options.get("wide"):
            options["target"] = None if args.target == "y" else _names(args.target)
        return args.data, options
    name = args.dataset or dataset_names()[0]
    info = dataset_info(name)
    if args.id or covariates or (args.time, args.target) != ("ds", "y") or _repairs(args):
        raise ConfigError("--time, --target, --id, --covariates, --wide, --sort and "
                          "--resample describe a --data file; the shipped dataset "
                          f"{name!r} has columns ds and y on a regular grid")
    if fill and args.fill is None and info["missing"]:
        options["fill"] = "interpolate"
    used = f"; fill={options['fill']}" if fill else ""
    print(f"Data: shipped dataset {name!r} ({info['description']}){used}", flush=True)
    return load_dataset(name), options


def _repairs(args: argparse.Namespace) -> dict:
    """The read options a --data file asked for: wide layout, sorting, resampling."""
    out = {}
    if getattr(args, "wide", False):
        out["wide"] = True
    if args.sort:
        out["sort"] = True
    if args.resample is not None:
        out["resample"], out["agg"] = args.resample, args.agg
    return out


def _forecaster(args: argparse.Namespace):
    from .forecaster import Forecaster

    return Forecaster(args.model, window=args.window, horizon=args.horizon, epochs=args.epochs,
                      difference=args.difference, dropout=args.dropout,
                      mc_samples=args.mc_samples, seed=args.seed, quiet=args.quiet,
                      model_options={"units": args.units} if args.units else None)


def _describe(ss) -> str:
    lengths = sorted(set(ss.lengths))
    steps = f"{lengths[0]}" if len(lengths) == 1 else f"{lengths[0]}-{lengths[-1]}"
    return f"{len(ss)} series of {steps} steps (freq {ss.freq})"


def _train(args: argparse.Namespace) -> int:
    _check_out(args.out, folder=True)
    data, options = _source(args)
    fc = _forecaster(args).fit(data, **options)
    folder = fc.save(args.out)
    scores = ", ".join(f"{k} {v:.4g}" for k, v in fc.validation_.items())
    print(f"Trained {args.model} (window {args.window}, horizon {args.horizon}, "
          f"{args.epochs} epochs) on {_describe(fc.series_)}")
    print(f"Held-out scores: {scores}")
    print(f"Saved: {folder}/")
    return 0


def _new_history(fc, args: argparse.Namespace):
    """The --data table as newer history of the model's series (Forecaster.history)."""
    options = {"fill": args.fill, **_repairs(args)}
    if args.time:
        options["time"] = args.time
    if args.target:
        options["target"] = _names(args.target)
    if args.id:
        options["id"] = args.id
    return fc.history(args.data, **options)


def _forecast(args: argparse.Namespace) -> int:
    from .forecaster import Forecaster
    from .io import atomic_write_text

    _check_out(args.out)
    _check_out(args.plot)
    if args.plot:
        from .plotting import check_available
        check_available()
    fc = Forecaster.load(args.model_dir)
    history = fc.series_ if args.data is None else _new_history(fc, args)
    frame = fc.predict(intervals=args.intervals, data=history)
    atomic_write_text(args.out, frame.to_csv(index=False))
    print(frame.to_string(index=False, max_rows=40, float_format=lambda v: f"{v:.4g}"))
    print(f"\nForecast of {len(history)} series, {fc.horizon} steps ahead: {args.out}")
    if args.plot:
        from .plotting import forecast_plot
        forecast_plot(history, frame, args.plot, last=max(fc.window, 4 * fc.horizon))
        print(f"Plot: {args.plot}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from .backtesting import METHODS, per_fold
    from .io import atomic_write_text

    _check_out(args.out)
    _check_out(args.plot)
    if args.plot:
        from .plotting import check_available
        check_available()
    data, options = _source(args)
    fc = _forecaster(args).fit(data, **options)
    steps = fc.backtest(folds=args.folds, step=args.step, season=args.season, per_step=True)
    frame = per_fold(steps)
    fmt = {"float_format": lambda v: f"{v:.4g}", "na_rep": "-"}
    print(frame.to_string(index=False, **fmt))
    mean = frame.drop(columns=["fold", "origins"]).groupby("method").mean()
    print(f"\nMean over {args.folds} folds:")
    print(mean.reindex([m for m in METHODS if m in mean.index]).to_string(**fmt))
    if args.out:
        atomic_write_text(args.out, frame.to_csv(index=False))
        print(f"\nTable: {args.out}")
    if args.plot:
        from .plotting import backtest_errors
        backtest_errors(steps, args.plot, title=f"Backtest of {args.model}")
        print(f"Plot: {args.plot}")
    return 0


def _impute(args: argparse.Namespace) -> int:
    from .imputation import Imputer
    from .io import atomic_write_text

    _check_out(args.out)
    data, options = _source(args, fill=False)
    imp = Imputer(args.model, window=args.window, units=args.units, layers=args.layers,
                  epochs=args.epochs, seed=args.seed, quiet=args.quiet).fit(data, **options)
    frame = imp.fill()
    atomic_write_text(args.out, frame.to_csv(index=False))
    gaps = imp.gaps_
    what = (f"{int(gaps.sum())} missing values in {len(gaps)} gaps (longest {gaps.max()} "
            "steps)") if len(gaps) else "no missing values (written unchanged)"
    print(f"Filled {what} over {len(imp.ids_)} series with {args.model}: {args.out}")
    return 0


def _frequency(text: str) -> str | int:
    return int(text) if text.strip().isdigit() else text.strip()


def _add_data(p: argparse.ArgumentParser, covariates: bool = True, fill: bool = True,
              source: bool = True, default: str | None = "ds", wide: bool = True) -> None:
    from .data import dataset_names
    from .data.tables import AGGS

    if source:
        group = p.add_mutually_exclusive_group()
        group.add_argument("--data", metavar="FILE", help="a CSV or Parquet table, one row "
                           "per time step (and per series, with --id)")
        names = dataset_names()
        group.add_argument("--dataset", metavar="NAME", help=f"a shipped dataset "
                           f"({', '.join(names)}); used without --data (default {names[0]})")
    said = "as at training" if default is None else "ds"
    p.add_argument("--time", default=default, help=f"the time column (default: {said})")
    p.add_argument("--target", default="y" if default else None,
                   help=f"the target column (default: {'y' if default else said})")
    p.add_argument("--id", default=None, help="the column that tells several series apart")
    if covariates:
        p.add_argument("--covariates", default=None, metavar="A,B",
                       help="comma-separated extra input columns")
    if fill:
        p.add_argument("--fill", choices=("interpolate", "ffill"), default=None,
                       help="fill missing values (default: refuse them)")
    if wide:
        p.add_argument("--wide", action="store_true",
                       help="one column per series (default: one row per series and time)")
    p.add_argument("--sort", action="store_true",
                   help="sort each series by time (default: refuse unsorted timestamps)")
    p.add_argument("--resample", metavar="FREQ", type=_frequency, default=None,
                   help="aggregate onto this frequency (D, W, MS, h, ...; an integer for "
                   "integer steps): irregular or duplicate timestamps, empty steps missing")
    p.add_argument("--agg", choices=AGGS, default="mean",
                   help="how --resample aggregates a step (default mean)")


def _add_model(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="gru", help="a zoo model with a sequence output "
                   "(gru, lstm, seq2seq_rnn, conv_gru, wavenet, ...; default gru)")
    p.add_argument("--window", type=int, default=32, help="input steps (default 32)")
    p.add_argument("--horizon", type=int, default=8, help="steps ahead (default 8)")
    p.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    p.add_argument("--difference", type=int, default=None, metavar="LAG",
                   help="difference at this lag first (1: trend, 12 or 52: season)")
    p.add_argument("--units", type=int, default=None, help="units per recurrent layer")
    p.add_argument("--dropout", type=float, default=0.1,
                   help="MC-dropout rate for the intervals (default 0.1; 0: none)")
    p.add_argument("--mc-samples", type=int, default=100, help="MC passes (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no per-epoch training lines")


_OPTION = re.compile(r"\b(fill|resample|agg|sort|wide|time|target|id)=('([^']*)'|True\b)")


def as_flags(message: str) -> str:
    """A message's Python options in command-line terms: fill='ffill' -> --fill ffill,
    sort=True -> --sort."""
    return _OPTION.sub(lambda m: f"--{m[1]}" + ("" if m[2] == "True" else f" {m[3]}"),
                       message)


def _native() -> int:
    from .layers import native

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqnets", description="Sequence models with RNNs and CNNs on PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, quick, help_text in (
        ("reproduce", False, "train and evaluate the chapter's experiments, with a report"),
        ("demo", True, "a quick reproduction (1 seed, 10 epochs, 10 experiments; about a minute)"),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--seeds", type=_seeds, default=None,
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
    sub.add_parser("native", help="build the native loops now (else they build "
                   "on first use) and say where they are; for images and offline machines")
    z = sub.add_parser("zoo", help="list the model zoo, or print one model's summary")
    z.add_argument("name", nargs="?", help="a model name")

    t = sub.add_parser("train", help="fit a Forecaster on a table and save it to a folder")
    _add_data(t)
    _add_model(t)
    t.add_argument("--out", required=True, metavar="DIR", help="the folder to save to")

    f = sub.add_parser("forecast", help="forecast with a saved Forecaster: CSV, and a plot",
                       description="Forecast the steps after the history saved with the "
                       "model or, with --data, after the end of that table (the same series, "
                       "columns and frequency; the model and its scaling are not refitted).")
    f.add_argument("model_dir", metavar="DIR", help="a folder written by seqnets train")
    f.add_argument("--data", metavar="FILE", help="newer history of the same series")
    _add_data(f, covariates=False, source=False, default=None)
    f.add_argument("--out", required=True, metavar="FILE", help="the forecast CSV")
    f.add_argument("--plot", metavar="FILE", help="a PNG of history, forecast and intervals")
    f.add_argument("--intervals", type=_levels, default=(0.8, 0.95),
                   help="interval levels (default 0.8,0.95; 'none' for none)")

    b = sub.add_parser("backtest", help="rolling-origin backtest against baselines")
    _add_data(b)
    _add_model(b)
    b.add_argument("--folds", type=int, default=5, help="folds (default 5)")
    b.add_argument("--step", type=int, default=None,
                   help="origins per fold (default: the horizon)")
    b.add_argument("--season", type=int, default=None,
                   help="season of the seasonal naive baseline (default: by frequency)")
    b.add_argument("--out", metavar="FILE", help="the table as CSV")
    b.add_argument("--plot", metavar="FILE", help="a PNG of the errors per fold and per "
                   "horizon step, and of the intervals' coverage per step")

    i = sub.add_parser("impute", help="fill missing values with a bidirectional model")
    _add_data(i, covariates=False, fill=False, wide=False)
    i.add_argument("--model", default="bigru", choices=("bigru", "bilstm"))
    i.add_argument("--window", type=int, default=64, help="steps per window (default 64)")
    i.add_argument("--units", type=int, default=32, help="units per direction (default 32)")
    i.add_argument("--layers", type=int, default=1, help="bidirectional layers (default 1)")
    i.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    i.add_argument("--seed", type=int, default=0)
    i.add_argument("--quiet", action="store_true", help="no per-epoch training lines")
    i.add_argument("--out", required=True, metavar="FILE", help="the filled table (CSV)")
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
        if args.command == "native":
            return _native()
        commands = {"train": _train, "forecast": _forecast, "backtest": _backtest,
                    "impute": _impute}
        if args.command in commands:
            return commands[args.command](args)
    except (SeqnetsError, OSError) as err:  # OSError: a path that cannot be written
        print(f"seqnets: error: {as_flags(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seqnets: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
