"""What a run of the chapter is judged against: the bars per experiment (the chapter's, for its
20 epochs; measured ones for the demo's 10), the verdict on a score, and the chapter's story
(which model beats which) as far as the run's epochs can show it."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from . import experiments

QUICK = ["naive", "linear", "deep_rnn_dense", "iterative_10", "naive_10", "linear_10",
         "seq2vec_10", "seq2seq_rnn", "conv_gru", "wavenet"]
QUICK_EPOCHS = 10
CHAPTER_EPOCHS = 20  # the chapter's bars (experiments.py) are what its 20-epoch runs reached
# The order in which the chapter's story must hold (each pair: (worse, better)).
STORY = [("linear_10", "seq2vec_10"), ("seq2vec_10", "seq2seq_rnn"),
         ("seq2seq_rnn", "conv_gru"), ("seq2seq_rnn", "wavenet"),
         ("naive", "linear"), ("simple_rnn", "deep_rnn")]

# The demo's yardstick: what QUICK_EPOCHS epochs reach, measured (the chapter's bars are for
# 20). Validation MSE of the QUICK experiments after 10 epochs on seeds 1-20 (not the demo's
# seed, 42), measured 2026-12-03 with torch 2.13.0 (CPU build), 2-core x86_64, by
#   seqnets reproduce --only naive,linear,deep_rnn_dense,iterative_10,naive_10,linear_10,\
#     seq2vec_10,seq2seq_rnn,conv_gru,wavenet --epochs 10 --workers 2 --no-plots \
#     --seeds 1,2,3,4,5,6,7,8,9,10        (and again with --seeds 11,...,20),
# seeds 1..20 in order. A 10-epoch run's bars and story are computed from them below.
QUICK_SEEDS = tuple(range(1, 21))
_MEASURED_1E5 = {  # valid MSE x 1e5; naive_10 (untrained, in no story pair) left out
    "naive": (2104, 2016, 1990, 2048, 2042, 1986, 2014, 2049, 1991, 1998, 2014, 2020, 2159, 1950,
              2154, 2167, 2076, 2034, 2094, 2049),
    "linear": (592, 462, 479, 468, 683, 691, 683, 596, 828, 771, 754, 417, 543, 568, 802, 796, 506,
               437, 514, 778),
    "deep_rnn_dense": (245, 317, 264, 272, 296, 288, 276, 309, 290, 288, 288, 275, 287, 301, 288,
                       304, 266, 304, 267, 319),
    "iterative_10": (2529, 2682, 2852, 2187, 2172, 1827, 2369, 2953, 2058, 2487, 2611, 1944, 3078,
                     2263, 3876, 4275, 1921, 3476, 2599, 2951),
    "linear_10": (2211, 2354, 2200, 2311, 2402, 2354, 2312, 2243, 2347, 2411, 2249, 2257, 2295,
                  2210, 2327, 2271, 2292, 2336, 2311, 2194),
    "seq2vec_10": (942, 1443, 1032, 1086, 1037, 882, 1073, 1088, 979, 1079, 1058, 1054, 1283, 933,
                   1251, 1150, 1218, 1006, 1000, 1038),
    "seq2seq_rnn": (721, 729, 754, 871, 644, 772, 840, 869, 777, 883, 618, 666, 797, 1192, 877,
                    785, 642, 823, 644, 883),
    "conv_gru": (1016, 1036, 1031, 1033, 983, 996, 1005, 1054, 1039, 1057, 1021, 1062, 1023, 1017,
                 1088, 1072, 1051, 989, 1069, 1020),
    "wavenet": (933, 1010, 984, 1157, 1230, 1012, 1063, 1098, 930, 1039, 1124, 934, 995, 990, 926,
                1006, 1119, 998, 946, 1196),
}
QUICK_MEASURED = {n: tuple(v / 1e5 for v in vals) for n, vals in _MEASURED_1E5.items()}
QUICK_BAR_RULE = ("the larger of mean + 3 std and the worst of the 20 seeds measured, "
                  "rounded up to 3 significant digits")
# Two claims of the chapter the demo's rows can show (STORY needs simple_rnn, deep_rnn): a deep
# RNN beats the linear model, and forecasting 10 values at once beats the recursive forecast.
QUICK_EXTRA_STORY = [("linear", "deep_rnn_dense"), ("iterative_10", "seq2vec_10")]
QUICK_STORY_MIN_HELD = 18  # a pair enters a 10-epoch run's story if it held on this many seeds


def _round_up(value: float, digits: int = 3) -> float:
    exponent = math.floor(math.log10(value)) - digits + 1
    return round(math.ceil(round(value / 10.0 ** exponent, 9)) * 10.0 ** exponent, -exponent)


def quick_bar(values: Sequence[float]) -> tuple[None, float]:
    """A 10-epoch bar from the measured seeds (``QUICK_BAR_RULE``): every one of them meets it."""
    high = max(statistics.fmean(values) + 3 * statistics.stdev(values), max(values))
    return None, _round_up(high)


QUICK_BARS = {n: quick_bar(v) for n, v in QUICK_MEASURED.items()
              if experiments.get(n).kind in ("trained", "iterative")}


def held_on(worse: str, better: str) -> int | None:
    """On how many of QUICK_SEEDS ``better`` beat ``worse`` after 10 epochs (None: unmeasured)."""
    w, b = QUICK_MEASURED.get(worse), QUICK_MEASURED.get(better)
    return None if w is None or b is None else sum(y < x for x, y in zip(w, b, strict=True))


def story_pairs(epochs: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The story's pairs a run of ``epochs`` epochs is checked on, and those left out. At 10
    epochs: the pairs that held on at least QUICK_STORY_MIN_HELD of the 20 measured seeds; the
    rest (conv_gru and wavenet beating seq2seq_rnn: 1 seed of 20 each) are left out, not
    printed as failures. Any other epoch count: STORY, as the chapter tells it."""
    if epochs != QUICK_EPOCHS:
        return list(STORY), []
    shown, left_out = [], []
    for pair in STORY + QUICK_EXTRA_STORY:  # unmeasured pairs (simple_rnn, deep_rnn): left out
        (shown if (held_on(*pair) or 0) >= QUICK_STORY_MIN_HELD else left_out).append(pair)
    return shown, left_out


def bar_for(name: str, epochs: int) -> tuple[tuple[float | None, float | None] | None, str]:
    """The bar a run of ``epochs`` epochs of ``name`` is judged against, and where it is from:
    the chapter's bars are for 20 epochs, a 10-epoch run gets what 10 epochs reach (QUICK_BARS),
    untrained baselines keep the chapter's at any count, other counts get none (verdict "—")."""
    exp = experiments.get(name)
    if exp.bar is None:
        return None, "none"
    if exp.kind == "baseline":
        return exp.bar, "chapter (untrained: any epochs)"
    if epochs == CHAPTER_EPOCHS:
        return exp.bar, f"chapter ({CHAPTER_EPOCHS} epochs)"
    if epochs == QUICK_EPOCHS and name in QUICK_BARS:
        return QUICK_BARS[name], f"measured ({QUICK_EPOCHS} epochs, seeds 1-20)"
    return None, f"none for {epochs} epochs"


def verdict(value: float, bar: tuple[float | None, float | None] | None) -> str:
    if bar is None:
        return "—"
    low, high = bar
    if low is not None and value < low:
        return "below range"
    if high is not None and value > high:
        return "misses"
    return "meets"


def story(rows: list[dict[str, Any]], epochs: int = CHAPTER_EPOCHS,
          left_out: bool = False) -> list[dict[str, Any]]:
    """Each pair of the chapter's story that a run of ``epochs`` epochs can show
    (``story_pairs``; ``left_out``: those it cannot) and that both ran: does the later model
    beat the earlier one? At 10 epochs a check also says on how many measured seeds it held."""
    means = {r["experiment"]: r["valid_mse_mean"] for r in rows}
    checks = []
    for worse, better in story_pairs(epochs)[left_out]:
        if worse in means and better in means:
            checks.append({"better": better, "worse": worse, "holds": means[better] < means[worse],
                           "values": [means[better], means[worse]]})
            if epochs == QUICK_EPOCHS:
                checks[-1].update(held_on=held_on(worse, better), of=len(QUICK_SEEDS))
    return checks


def epochs_text(n: int) -> str:
    return f"{n} epoch{'' if n == 1 else 's'}"


def story_heading(epochs: int) -> str:
    return ("Does the chapter's story hold?" if epochs == CHAPTER_EPOCHS
            else f"The chapter's story, as far as {epochs} epochs show it" if epochs == QUICK_EPOCHS
            else f"The chapter's story (told at {CHAPTER_EPOCHS} epochs), on {epochs_text(epochs)}")


def story_lines(checks: list[dict[str, Any]]) -> list[str]:
    """Each check as a line of text (at 10 epochs: on how many measured seeds it held)."""
    return [f"{c['better']} beats {c['worse']}: {'yes' if c['holds'] else 'NO'}{held_text(c)}"
            for c in checks]


def held_text(c: dict[str, Any]) -> str:
    if "held_on" not in c:
        return ""
    return " (not measured)" if c["held_on"] is None else \
        f" (held on {c['held_on']} of {c['of']} seeds measured)"


def story_note(left_out: Sequence[dict[str, Any]], epochs: int) -> str | None:
    """Why the pairs ``story(..., left_out=True)`` returns are not checked (None: none)."""
    if not left_out:
        return None
    pairs = ", ".join(f"{c['better']} beats {c['worse']}{held_text(c)}" for c in left_out)
    longer = sorted({f"{c['better']}+" for c in left_out} & set(experiments.IMPROVED_ROWS))
    return (f"Not checked at {epochs} epochs: {pairs}. `seqnets reproduce` checks them at the "
            f"chapter's {CHAPTER_EPOCHS} epochs" + (f" and trains {' and '.join(longer)} up to "
                                                    "3x longer." if longer else "."))
