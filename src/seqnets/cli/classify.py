"""``seqnets classify train | evaluate | predict | demo``: sequence classification
(:mod:`seqnets.classify`).

    seqnets classify train --data sketches/npz --out clf/
    seqnets classify evaluate clf/ --data sketches/npz --split test      # + clf/confusion.png
    seqnets classify predict clf/ --data new.ndjson --out predictions.csv
    seqnets classify demo
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from pathlib import Path

from ..errors import ConfigError
from .common import add_force, add_resume, check_out, resumable, save_on_main


def _read(args: argparse.Namespace, split: str):
    from ..classify.files import read_labelled

    data = read_labelled(args.data, split=split)
    print(f"Data: {data.description}", flush=True)
    return data


def _print_report(report: dict) -> None:
    from ..classify.metrics import confusion_table

    top = [k for k in report if k.startswith("top_")]
    extra = f", {top[0].replace('_', '-')} {report[top[0]]:.4f}" if top else ""
    print(f"accuracy {report['accuracy']:.4f}, macro F1 {report['macro_f1']:.4f}{extra} "
          f"({report['n']} sequences)")
    print(f"{'class':>12} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}")
    for name, s in report["per_class"].items():
        print(f"{name:>12} {s['precision']:9.3f} {s['recall']:7.3f} {s['f1']:6.3f} "
              f"{s['support']:7d}")
    print(confusion_table(report["confusion"], report["labels"]))


def train(args: argparse.Namespace) -> int:
    from ..classify import Classifier

    check_out(args.out, folder=True, force=args.force)
    data = _read(args, "train")
    if data.labels is None:
        raise ConfigError(f"{args.data} has no class labels; training needs them")
    options = {"padding": args.padding} if args.model != "video_gru" else {}
    if args.units is not None:  # the width: filters of the convolutional model, units of the others
        options["filters" if args.model == "dilated_conv" else "units"] = args.units
    clf = Classifier(args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                     validation=args.validation, patience=args.patience,
                     class_weight=args.class_weight, max_length=args.max_length,
                     model_options=options, ensemble=args.ensemble, seed=args.seed,
                     threads=args.threads, quiet=args.quiet)
    start = time.perf_counter()
    with resumable(args, args.out):
        clf.fit(data.sequences, data.labels)
        seconds = time.perf_counter() - start
        folder = save_on_main(clf.save, args.out, overwrite=args.force)
    hist = clf.history_
    best = clf.best_epoch_ - 1
    scores = f", validation accuracy {hist['val_accuracy'][best]:.4f}" \
        if "val_accuracy" in hist else ""
    print(f"Trained {args.model} on {len(data.sequences)} sequences, {len(clf.classes_)} "
          f"classes: {len(hist['loss'])} epochs in {seconds:.0f} s, best epoch "
          f"{clf.best_epoch_}{scores}" + (f" (first of {args.ensemble} models)"
                                           if args.ensemble > 1 else ""))
    print(f"Saved: {folder}/")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from .. import plotting
    from ..classify import Classifier

    png = args.png or str(Path(args.model_dir) / "confusion.png")
    check_out(png, force=args.force or args.png is None)  # its own default is replaced
    check_out(args.json, force=args.force)
    plotting.check_available()
    clf = Classifier.load(args.model_dir)
    data = _read(args, args.split)
    if data.labels is None:
        raise ConfigError(f"{args.data} has no class labels to evaluate against; use "
                          "'seqnets classify predict'")
    report = clf.evaluate(data.sequences, data.labels)
    _print_report(report)
    plotting.confusion_matrix(report["confusion"], report["labels"], png,
                              title=f"{Path(args.model_dir).name}: {Path(args.data).name}")
    print(f"Wrote {png}")
    if args.json:
        from ..io import atomic_write_text

        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"Wrote {args.json}")
    return 0


def predict(args: argparse.Namespace) -> int:
    from ..classify import Classifier
    from ..io import atomic_write_text

    check_out(args.out, force=args.force)
    clf = Classifier.load(args.model_dir)
    data = _read(args, args.split)
    proba = clf.predict_proba(data.sequences)
    classes = [str(c) for c in clf.classes_.tolist()]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["source", "label", *(f"p_{c}" for c in classes)])
    for src, row in zip(data.sources, proba, strict=True):
        writer.writerow([src, classes[int(row.argmax())], *(f"{v:.6f}" for v in row)])
    atomic_write_text(args.out, buffer.getvalue())
    print(f"Predicted {len(proba)} sequences; wrote {args.out}")
    return 0


def demo(args: argparse.Namespace) -> int:
    from ..classify import demo as run_demo

    check_out(args.out, folder=True, force=True)  # a demo replaces its own outputs
    start = time.perf_counter()
    print(f"Training sketch_lstm on synthetic sketches (10 classes, "
          f"{run_demo.TRAIN_PER_CLASS} each, {run_demo.EPOCHS} epochs at most) ...", flush=True)
    from .. import plotting

    plotting.check_available()
    clf, report = run_demo.sketches(quiet=args.quiet)
    _print_report(report)
    clf.save(Path(args.out) / "model", overwrite=True)
    plotting.confusion_matrix(report["confusion"], report["labels"],
                              Path(args.out) / "confusion.png",
                              title="sketch_lstm on synthetic sketches (test)")
    print(f"Done in {time.perf_counter() - start:.0f} s: {args.out}/model/ (seqnets classify "
          f"predict {args.out}/model --data ...) and {args.out}/confusion.png")
    return 0


def add_commands(sub) -> None:
    """The ``classify`` command group."""
    group = sub.add_parser("classify", help="sequence classification: train, evaluate, "
                           "predict, demo")
    cmds = group.add_subparsers(dest="classify_command", required=True)

    def data_flag(p, split="train"):
        p.add_argument("--data", required=True, metavar="PATH",
                       help="a .npz, .ndjson or .ts file, or a folder of .npz or .ndjson "
                       "files (one class a file, labelled by the file name)")
        p.add_argument("--split", default=split, choices=("train", "valid", "test"),
                       help=f"the split of .npz files to read (default {split})")

    t = cmds.add_parser("train", help="train a classifier and save it to a folder")
    data_flag(t)
    t.add_argument("--out", required=True, metavar="DIR")
    t.add_argument("--model", default="sketch_lstm",
                   help="sketch_lstm (the textbook's, default), sketch_gru, dilated_conv, "
                   "video_gru")
    t.add_argument("--padding", default="same", choices=("same", "valid"),
                   help="the convolutions' padding: 'same' (default) takes any length, "
                   "'valid' (the textbook's) needs 21 steps or more")
    t.add_argument("--units", type=int, default=None,
                   help="recurrent units (dilated_conv: filters per convolution)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--validation", type=float, default=0.2,
                   help="share of each class held out for early stopping (default 0.2)")
    t.add_argument("--patience", type=int, default=10)
    t.add_argument("--class-weight", choices=("balanced",), default=None)
    t.add_argument("--max-length", type=int, default=None, help="keep the first N steps")
    t.add_argument("--ensemble", type=int, default=1, metavar="N",
                   help="train N models from their own seeds and average their "
                   "probabilities (default 1)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=None)
    t.add_argument("--quiet", action="store_true")
    add_force(t)
    add_resume(t)
    t.set_defaults(func=train)

    e = cmds.add_parser("evaluate", help="metrics of a saved classifier, confusion PNG")
    e.add_argument("model_dir", metavar="DIR")
    data_flag(e, "test")
    e.add_argument("--png", metavar="FILE", help="the confusion matrix (default "
                   "DIR/confusion.png)")
    e.add_argument("--json", metavar="FILE", help="write every metric as JSON")
    add_force(e)
    e.set_defaults(func=evaluate)

    p = cmds.add_parser("predict", help="label and probabilities per sequence, as CSV")
    p.add_argument("model_dir", metavar="DIR")
    data_flag(p, "test")
    p.add_argument("--out", required=True, metavar="FILE")
    add_force(p)
    p.set_defaults(func=predict)

    d = cmds.add_parser("demo", help="train on synthetic sketches (about a minute)")
    d.add_argument("--out", default="classify_demo", metavar="DIR")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=demo)
