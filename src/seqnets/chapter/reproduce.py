"""``seqnets reproduce``: every experiment of the chapter, over seeds, side by side on the
cores, with a table, ``results.json``, a Markdown report and figures."""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..checks import positive_int
from ..data.synthetic import chapter_splits
from ..errors import ConfigError
from ..io import atomic_write_text
from ..layers.ops.dispatch import cap_process_threads
from . import experiments
from .runs import FinishedRuns, Stopped, _Signal, signals_raise, stop_workers, worker_init
from .verdicts import (
    CHAPTER_EPOCHS,
    QUICK_BAR_RULE,
    QUICK_EPOCHS,
    QUICK_SEEDS,
    bar_for,
    epochs_text,
    held_text,
    story,
    story_heading,
    story_note,
    verdict,
)


def _groups(names: Sequence[str]) -> list[list[str]]:
    """Units of work for one process: iterative_10 rides with deep_rnn_dense (it reuses
    the trained model, as the chapter does)."""
    groups: list[list[str]] = []
    rest = list(names)
    if "iterative_10" in rest:
        rest.remove("iterative_10")
        if "deep_rnn_dense" in rest:
            rest.remove("deep_rnn_dense")
            groups.append(["deep_rnn_dense", "iterative_10"])
        else:
            groups.append(["iterative_10"])
    groups += [[n] for n in rest]
    return groups


def _run_group(names: list[str], seed: int, epochs: int) -> list[dict[str, Any]]:
    cap_process_threads(1)  # one process per core; fit picks its own count per model
    cache: dict[str, Any] = {}
    return [experiments.run(n, seed, epochs, quiet=True, cache=cache) for n in names]


def _cost(names: list[str]) -> float:
    """Rough relative cost, to start the longest work first."""
    slow = {"gru": 5, "conv_gru": 3, "ln_rnn": 5, "peephole_lstm": 6, "bn_rnn": 3,
            "encoder_decoder": 4, "wavenet_full": 4, "lstm": 2, "deep_rnn_dense": 3,
            "iterative_10": 3}
    def one(n: str) -> float:
        base = slow.get(n.rstrip("+"), 1.5 if experiments.get(n).kind == "trained" else 0.1)
        return base * (3 if n.endswith("+") else 1)  # improved rows train up to 3x longer

    return sum(one(n) for n in names)


def run_all(names: Sequence[str], seeds: Sequence[int], epochs: int, workers: int,
            log: Callable[[str], None] = print,
            saved: FinishedRuns | None = None) -> list[dict[str, Any]]:
    """Every (experiment, seed), ``workers`` processes side by side; records in order.

    With ``saved``, runs already finished there are skipped and each new one is saved as
    it completes. SIGINT or SIGTERM stops the workers (none is left running) and raises
    :class:`~seqnets.chapter.runs.Stopped`.
    """
    jobs = [(g, s) for s in seeds for g in _groups(names)]
    jobs.sort(key=lambda job: -_cost(job[0]))
    records: list[dict[str, Any]] = []
    total = sum(len(g) for g, _ in jobs)
    if saved is not None:
        todo = []
        for group, seed in jobs:
            found = [saved.get(n, seed) for n in group]
            if all(found):  # a group runs whole: iterative_10 needs deep_rnn_dense's model
                records += found
            else:
                todo.append((group, seed))
        if records:
            log(f"{len(records)} of {total} runs already finished in {saved.folder}/: "
                "skipped")
        jobs = todo

    def finished(recs: list[dict[str, Any]]) -> None:
        for rec in recs:
            if saved is not None:
                saved.put(rec)
            records.append(rec)
            log(_progress_line(rec, len(records), total))

    try:
        with signals_raise():
            if workers <= 1:
                for group, seed in jobs:
                    finished(_run_group(group, seed, epochs))
            else:
                _run_pool(jobs, epochs, workers, finished)
    except _Signal as sig:
        raise Stopped(sig.signum, len(records), total,
                      saved.folder if saved is not None else None) from None
    return _ordered(records, names, seeds)


def _run_pool(jobs: list, epochs: int, workers: int,
              finished: Callable[[list[dict[str, Any]]], None]) -> None:
    """The jobs on ``workers`` spawned processes; on any exception (a signal's included) the
    workers are terminated and waited for before it propagates."""
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=worker_init)
    try:
        pending = {pool.submit(_run_group, g, s, epochs) for g, s in jobs}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                finished(future.result())
    except BaseException:
        stop_workers(pool)
        raise
    pool.shutdown(wait=True)


def _ordered(records: list[dict[str, Any]], names: Sequence[str],
             seeds: Sequence[int]) -> list[dict[str, Any]]:
    rank = {n: i for i, n in enumerate(names)}
    seed_rank = {s: i for i, s in enumerate(seeds)}
    return sorted(records, key=lambda r: (rank[r["experiment"]], seed_rank[r["seed"]]))


def _progress_line(rec: dict[str, Any], i: int, total: int) -> str:
    return (f"[{i}/{total}] {rec['experiment']} (seed {rec['seed']}): valid "
            f"{rec['valid_mse']:.5f}, {rec['wall_seconds']:.0f} s")


def summarize(records: list[dict[str, Any]], names: Sequence[str],
              epochs: int = CHAPTER_EPOCHS) -> list[dict[str, Any]]:
    """One row per experiment: mean ± std over seeds, verdict against the bar for a run of
    ``epochs`` epochs (``bar_for``; the chapter's bar is kept as ``chapter_bar``)."""
    rows = []
    for name in names:
        exp = experiments.get(name)
        recs = [r for r in records if r["experiment"] == name]
        valid = [r["valid_mse"] for r in recs]
        test = [r["test_mse"] for r in recs]
        per_epoch = [r["seconds_per_epoch"] for r in recs if "seconds_per_epoch" in r]
        mean = statistics.fmean(valid)
        bar, basis = bar_for(name, epochs)
        row = {
            "experiment": name, "row": exp.row, "description": exp.description,
            "params": recs[0]["params"], "seeds": [r["seed"] for r in recs],
            "valid_mse_mean": mean,
            "valid_mse_std": statistics.pstdev(valid) if len(valid) > 1 else 0.0,
            "valid_mse": valid, "test_mse_mean": statistics.fmean(test),
            "reported": exp.reported, "bar": list(bar) if bar else None,
            "verdict": verdict(mean, bar), "epochs": epochs, "bar_basis": basis,
            "chapter_bar": list(exp.bar) if exp.bar else None,
            "seconds_per_epoch": statistics.median(per_epoch) if per_epoch else None,
            "metric": "last_time_step_mse" if exp.scored_on_last_step else "mse",
        }
        rows.append(row)
    return rows


def _bar_text(bar: list[float | None] | None) -> str:
    if not bar:
        return "—"
    low, high = bar
    if low is not None and high is not None:
        return f"{low:.4g}–{high:.4g}"
    return f"≤ {high:.4g}"


def table(rows: list[dict[str, Any]]) -> str:
    """The results as a Markdown table. A run of the chapter's 20 epochs is judged against
    the chapter's bars; any other run shows them for reference beside its own."""
    epochs = rows[0].get("epochs", CHAPTER_EPOCHS) if rows else CHAPTER_EPOCHS
    seeds = rows[0].get("seeds", []) if rows else []
    one = len(seeds) == 1 and all(len(r.get("seeds", [])) == 1 for r in rows)
    valid_head = f"valid MSE (seed {seeds[0]})" if one else "valid MSE (mean ± std)"
    bars = ("chapter | bar" if epochs == CHAPTER_EPOCHS
            else f"chapter ({CHAPTER_EPOCHS} epochs), its bar | bar for {epochs_text(epochs)}")
    lines = [f"| experiment | params | {valid_head} | test MSE | {bars} | verdict | s/epoch |",
             "|---|---:|---:|---:|---|---|---|---:|"]
    for r in rows:
        spe = f"{r['seconds_per_epoch']:.2f}" if r["seconds_per_epoch"] is not None else "—"
        star = "*" if r["metric"] == "last_time_step_mse" else ""
        valid = f"{r['valid_mse_mean']:.5f}" + ("" if one else f" ± {r['valid_mse_std']:.5f}")
        if epochs == CHAPTER_EPOCHS:
            chapter, bar = r["reported"], _bar_text(r["bar"])
        else:
            chapter = r["reported"] + (f", {_bar_text(r['chapter_bar'])}"
                                       if r.get("chapter_bar") else "")
            bar = _bar_text(r["bar"]) + (" †" if "untrained" in r.get("bar_basis", "") else "")
        lines.append(f"| {r['experiment']}{star} | {r['params']:,} | {valid} | "
                     f"{r['test_mse_mean']:.5f} | {chapter} | {bar} | {r['verdict']} | {spe} |")
    return "\n".join(lines)


def bar_notes(rows: list[dict[str, Any]]) -> list[str]:
    """What the bars of a run other than the chapter's 20 epochs are (none for 20 epochs)."""
    epochs = rows[0].get("epochs", CHAPTER_EPOCHS) if rows else CHAPTER_EPOCHS
    if epochs == CHAPTER_EPOCHS:
        return []
    if epochs == QUICK_EPOCHS:
        notes = [f"Verdicts judge this {epochs}-epoch run against what {epochs} epochs reach, "
                 f"measured on seeds {QUICK_SEEDS[0]}-{QUICK_SEEDS[-1]} (the demo's own seed, "
                 f"42, not among them); each is {QUICK_BAR_RULE}. The chapter's bars are for "
                 f"{CHAPTER_EPOCHS} epochs (`seqnets reproduce`)."]
    else:
        notes = [f"No bar for {epochs_text(epochs)}: the chapter's bars are for {CHAPTER_EPOCHS} "
                 f"epochs, the measured ones for {QUICK_EPOCHS}; only untrained rows are judged."]
    if any("untrained" in r.get("bar_basis", "") for r in rows):
        notes.append("† an untrained baseline: the chapter's bar holds at any epoch count.")
    return notes


def report(rows: list[dict[str, Any]], checks: list[dict[str, Any]], settings: dict[str, Any],
           figures: list[str], left_out: Sequence[dict[str, Any]] = ()) -> str:
    """The Markdown report."""
    epochs = settings["epochs"]
    chapter = epochs == CHAPTER_EPOCHS
    met = [r for r in rows if r["verdict"] == "meets"]
    barred = [r for r in rows if r["verdict"] != "—"]
    out = [
        "# The chapter, reproduced with seqnets", "",
        f"Command: `{settings['command']}`  ",
        f"Seeds {settings['seeds']}, {settings['epochs']} epochs, batch 32, Adam (Keras "
        f"defaults); {settings['workers']} worker process(es); total wall time "
        f"{settings['wall_seconds']:.0f} s on {settings['machine']}.", "",
        "Valid MSE is the mean over seeds; rows marked * are sequence-to-sequence models "
        "scored by the MSE of the last time step's 10 outputs (the chapter's "
        "`last_time_step_mse`), comparable with the vector models.", "",
        table(rows), "", *[f"{n}  " for n in bar_notes(rows)],
        *([""] if not chapter else []),
        f"**{'Bars' if chapter else f'Bars for {epochs_text(epochs)}'} met: {len(met)} of "
        f"{len(barred)}.**", "", f"## {story_heading(epochs)}", "",
    ]
    for c in checks:
        mark = "yes" if c["holds"] else "**no**"
        out.append(f"- {c['better']} ({c['values'][0]:.5f}) beats {c['worse']} "
                   f"({c['values'][1]:.5f}): {mark}{held_text(c)}")
    note = story_note(left_out, epochs)
    if note:
        out += ["", note]
    missed = [r for r in rows if r["verdict"] in ("misses", "below range")]
    by_name = {r["experiment"]: r for r in rows}
    if missed:
        out += ["", "## Bars missed by the chapter's exact protocol" if chapter
                else f"## Bars for {epochs_text(epochs)} missed", ""]
        for r in missed:
            line = (f"- {r['experiment']}: {r['valid_mse_mean']:.5f} against "
                    f"{_bar_text(r['bar'])} (per seed: "
                    + ", ".join(f"{v:.5f}" for v in r["valid_mse"]) + ")")
            better = by_name.get(f"{r['experiment']}+")
            if better:
                line += (f"; the improved row {better['experiment']} reaches "
                         f"{better['valid_mse_mean']:.5f} ({better['verdict']})")
            seeds, note = experiments.ANALYSES.get(r["experiment"], ((), ""))
            if note and chapter and sorted(seeds) == sorted(settings["seeds"]):
                line += f"; {note}"
            out.append(line)
    if any(r["experiment"].endswith("+") for r in rows):
        out += ["", "Rows ending in `+` are a documented improvement over the faithful row "
                f"of the same name, the same for each: {experiments.IMPROVEMENT}. Everything is "
                "judged on validation data; the test column is untouched by the choice."]
    if figures:
        out += ["", "## Figures", ""] + [f"![{Path(f).stem}]({Path(f).name})" for f in figures]
    return "\n".join(out) + "\n"


def figures(records: list[dict[str, Any]], seed: int, out: Path) -> list[str]:
    """Learning curves and forecast figures for one seed's runs."""
    from .. import plotting

    paths = []
    first = {r["experiment"]: r for r in records if r["seed"] == seed}
    curves = {n: r["history"] for n, r in first.items() if "history" in r}
    if curves:
        paths.append(plotting.learning_curves(curves, out / "learning_curves.png",
                                              f"Learning curves (seed {seed})"))
    k = experiments.N_EXAMPLES
    one = chapter_splits("next_value", seed=seed)
    f1 = {n: np.asarray(first[n]["examples"]) for n in ("naive", "linear", "deep_rnn",
                                                         "deep_rnn_dense") if n in first}
    if f1:
        paths.append(plotting.forecast_panels(
            one.valid[0][:k, :, 0], one.valid[1][:k], f1, out / "forecast_next_value.png",
            "Next value: forecasts of the first validation series"))
    ten = chapter_splits("next_10", seed=seed)
    f10 = {n: np.asarray(first[n]["examples"]) for n in (
        "naive_10", "iterative_10", "linear_10", "seq2vec_10", "seq2seq_rnn", "conv_gru",
        "wavenet") if n in first}
    if f10:
        paths.append(plotting.forecast_panels(
            ten.valid[0][:k, :, 0], ten.valid[1][:k], f10, out / "forecast_next_10.png",
            "Next 10 values: recursive, direct and sequence-to-sequence strategies"))
    return [str(p) for p in paths]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"


def reproduce(names: Sequence[str] | None = None, seeds: Sequence[int] = (42, 7, 1),
              epochs: int = 20, out: str | Path = "reproduce-results", workers: int | None = None,
              plots: bool = True, command: str | None = None,
              log: Callable[[str], None] = print, fresh: bool = False) -> dict[str, Any]:
    """Run the chapter's experiments; write ``results.json``, ``report.md`` and figures to
    ``out``; return the results. ``names``: default every experiment of spec §2.

    Each finished run is kept in ``out/runs/`` as it completes: a rerun with the same
    epochs into the same folder skips those (``fresh=True`` discards them first); SIGINT or
    SIGTERM stops the workers and raises :class:`~seqnets.chapter.runs.Stopped`.
    """
    names = list(names) if names else experiments.CORE + experiments.IMPROVED_ROWS
    for n in names:
        experiments.get(n)
    if not seeds:
        raise ConfigError("give at least one seed")
    if epochs < 1:
        raise ConfigError(f"epochs must be at least 1, got {epochs}")
    if workers is not None:
        positive_int(workers, "workers")
    workers = workers or min(os.cpu_count() or 1, 2 * len(seeds), len(_groups(names)))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    saved = FinishedRuns(out, epochs, fresh=fresh)
    start = time.perf_counter()
    records = run_all(names, list(seeds), epochs, workers, log, saved)
    wall = time.perf_counter() - start
    rows = summarize(records, names, epochs)
    checks, left_out = story(rows, epochs), story(rows, epochs, left_out=True)
    settings = {"command": command or "seqnets reproduce", "seeds": list(seeds),
                "epochs": epochs, "workers": workers, "wall_seconds": wall,
                "machine": machine(), "seqnets_version": __version__,
                "python": sys.version.split()[0]}
    figs = figures(records, seeds[0], out) if plots else []
    results = {"settings": settings, "summary": rows, "story": checks,
               "story_not_checked": left_out, "figures": [Path(f).name for f in figs],
               "runs": records}
    atomic_write_text(out / "results.json", json.dumps(results, indent=1) + "\n")
    atomic_write_text(out / "report.md", report(rows, checks, settings, figs, left_out))
    return results
