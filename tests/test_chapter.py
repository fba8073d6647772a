"""The chapter's experiments and the reproduce report (short runs)."""

import json

import numpy as np
import pytest

from seqnets.chapter import experiments as chapter
from seqnets.chapter import reproduce, verdicts
from seqnets.errors import ConfigError


def test_every_core_row_has_a_bar_and_a_runnable_definition():
    assert chapter.CORE == ["naive", "linear", "simple_rnn", "deep_rnn", "deep_rnn_dense",
                            "iterative_10", "naive_10", "linear_10", "seq2vec_10",
                            "seq2seq_rnn", "ln_rnn", "lstm", "gru", "conv_gru", "wavenet"]
    for name in chapter.CORE:
        assert chapter.get(name).bar is not None


def test_naive_matches_the_chapter():
    rec = chapter.run("naive", seed=42)
    assert rec["valid_mse"] == pytest.approx(0.0202, rel=0.05)
    assert rec["params"] == 0


def test_closed_form_linear_is_a_lower_bound_for_the_trained_one():
    lstsq = chapter.run("lstsq_linear", seed=3)
    trained = chapter.run("linear", seed=3, epochs=1)
    assert lstsq["valid_mse"] < trained["valid_mse"]
    assert trained["params"] == 51 and len(trained["history"]["loss"]) == 1


def test_iterative_reuses_the_trained_one_step_model():
    cache = {}
    base = chapter.run("deep_rnn_dense", seed=5, epochs=1, cache=cache)
    rec = chapter.run("iterative_10", seed=5, epochs=1, cache=cache)
    assert "base_model" not in rec  # came from the cache, not retrained
    assert np.asarray(rec["examples"]).shape == (chapter.N_EXAMPLES, 10)
    assert rec["params"] == base["params"] == 1281


def test_conv_gru_targets_are_cropped_to_the_strided_output():
    y = np.arange(2 * 50 * 10).reshape(2, 50, 10)
    cropped = chapter._crop(y)
    assert cropped.shape == (2, 24, 10)
    np.testing.assert_array_equal(cropped[:, 0], y[:, 3])
    np.testing.assert_array_equal(cropped[:, -1], y[:, 49])  # last output sees the last input


def test_unknown_experiment():
    with pytest.raises(ConfigError, match="unknown experiment"):
        chapter.get("transformer")


def fake_rows(values):
    records = []
    for name, vals in values.items():
        for seed, v in enumerate(vals):
            records.append({"experiment": name, "seed": seed, "valid_mse": v, "test_mse": v,
                            "params": 1})
    return reproduce.summarize(records, list(values))


def test_summary_verdicts_and_story():
    rows = fake_rows({"naive": [0.0202, 0.0202], "linear_10": [0.02, 0.018],
                      "seq2vec_10": [0.009, 0.010], "seq2seq_rnn": [0.0095, 0.0105]})
    by = {r["experiment"]: r for r in rows}
    assert by["naive"]["verdict"] == "meets"
    assert by["linear_10"]["valid_mse_mean"] == pytest.approx(0.019)
    assert by["linear_10"]["valid_mse_std"] == pytest.approx(0.001)
    assert by["seq2vec_10"]["verdict"] == "misses"  # mean 0.0095 against the bar 0.0085
    checks = {(c["better"], c["worse"]): c["holds"] for c in verdicts.story(rows)}
    assert checks[("seq2vec_10", "linear_10")] is True
    assert checks[("seq2seq_rnn", "seq2vec_10")] is False
    assert verdicts.verdict(0.01, (0.02, 0.03)) == "below range"


def test_reproduce_writes_results_report_and_figures(tmp_path):
    results = reproduce.reproduce(["naive", "lstsq_linear", "naive_10", "lstsq_linear_10"],
                                  seeds=[1, 2], epochs=1, out=tmp_path, workers=1,
                                  log=lambda line: None)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["experiment"] for r in saved["summary"]] == ["naive", "lstsq_linear", "naive_10",
                                                           "lstsq_linear_10"]
    assert len(saved["runs"]) == 8
    report = (tmp_path / "report.md").read_text()
    assert "| naive |" in report and "story" in report
    for png in ("forecast_next_value.png", "forecast_next_10.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results["settings"]["seeds"] == [1, 2]


def test_improved_rows_extend_their_faithful_row_with_the_documented_recipe():
    for name in chapter.IMPROVED_ROWS:
        exp = chapter.get(name)
        base = chapter.get(exp.improves)
        assert name == base.name + "+" and exp.bar == base.bar and exp.model == base.model
        assert chapter.IMPROVEMENT in exp.description
    rec = chapter.run("linear+", seed=3, epochs=1)
    assert 1 <= rec["epochs_run"] <= 3  # up to 3x the epochs, early stopping may cut it


def test_the_report_carries_a_missed_bars_analysis_for_the_seeds_it_was_made_on():
    row = {"experiment": "simple_rnn", "params": 3, "valid_mse_mean": 0.01205,
           "valid_mse_std": 0.0014, "test_mse_mean": 0.0122, "reported": "about 0.014",
           "bar": (None, 0.011), "verdict": "misses", "seconds_per_epoch": 0.2,
           "metric": "mse", "valid_mse": [0.0108, 0.0120, 0.0133]}
    settings = {"command": "seqnets reproduce", "epochs": 20, "workers": 2,
                "wall_seconds": 1.0, "machine": "test"}
    same = reproduce.report([row], [], {**settings, "seeds": [1, 42, 7]}, [])
    assert "simple_rnn: 0.01205 against" in same and "mean 0.01109 > 0.011" in same
    other = reproduce.report([row], [], {**settings, "seeds": [3]}, [])
    assert "simple_rnn: 0.01205 against" in other and "0.01109" not in other
