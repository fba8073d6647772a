"""The benchmark: one real (small) measurement, the table, and argument errors."""

import json

import pytest

from seqnets.chapter import bench
from seqnets.cli import main
from seqnets.errors import ConfigError


def test_measure_reports_every_figure():
    row = bench.measure("linear", epochs=2)
    assert row["params"] == 51 and row["epochs"] == 2
    for key in ("seconds_per_epoch", "samples_per_second", "peak_rss_mb", "latency_ms",
                "batch_1024_windows_per_second", "valid_mse"):
        assert row[key] > 0, key
    assert row["samples_per_second"] == pytest.approx(7000 / row["seconds_per_epoch"])


def test_table_with_and_without_keras():
    row = {"model": "gru", "params": 4110, "seconds_per_epoch": 0.5, "samples_per_second": 14000,
           "peak_rss_mb": 300, "latency_ms": 0.4, "batch_1024_windows_per_second": 90000}
    assert "| gru | 4,110 | 0.500 |" in bench.table({"rows": [row]})
    with_keras = {**row, "keras": {"seconds_per_epoch": 4.63}, "ratio": 0.5 / 4.63}
    text = bench.table({"rows": [with_keras]})
    assert "Keras s/epoch" in text and "| 4.630 | 0.11 |" in text


def test_bench_refuses_bad_requests(tmp_path):
    with pytest.raises(ConfigError, match="at least 2 epochs"):
        bench.run(["linear"], epochs=1)
    with pytest.raises(ConfigError, match="keras_ch15.py"):
        bench.run(["linear"], epochs=2, keras_python="python3",
                  keras_script=tmp_path / "missing.py")
    with pytest.raises(ConfigError, match="not a trained model"):
        bench.measure("naive", epochs=2)


def test_cli_bench_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--only", "linear", "--epochs", "2", "--out", str(out)]) == 0
    assert "| linear | 51 |" in capsys.readouterr().out
    assert json.loads(out.read_text())["rows"][0]["model"] == "linear"


def test_repeats_report_medians_of_times_and_of_paired_ratios(monkeypatch):
    ours = iter([1.0, 3.0, 2.0])
    theirs = iter([4.0, 6.0, 20.0])

    def fake_ours(name, epochs, seed):
        return {"model": name, "seconds_per_epoch": next(ours)}

    def fake_keras(name, python, script, epochs, seed):
        return {"model": name, "seconds_per_epoch": next(theirs)}

    monkeypatch.setattr(bench, "ours", fake_ours)
    monkeypatch.setattr(bench, "keras", fake_keras)
    out = bench.run(["gru"], epochs=2, keras_python="python3", keras_script=__file__,
                    repeats=3, log=lambda line: None)
    row = out["rows"][0]
    assert row["seconds_per_epoch"] == 2.0 and row["keras"]["seconds_per_epoch"] == 6.0
    assert row["ratio"] == pytest.approx(0.25)        # median of 0.25, 0.5, 0.1
    assert [r["ratio"] for r in row["runs"]] == pytest.approx([0.25, 0.5, 0.1])
    assert out["settings"]["repeats"] == 3
    with pytest.raises(ConfigError, match="repeats"):
        bench.run(["gru"], epochs=2, repeats=0)


def test_keras_time_is_the_median_epoch_after_the_first(tmp_path):
    import sys

    script = tmp_path / "fake_keras.py"
    script.write_text(
        "import json, sys\n"
        "out = sys.argv[sys.argv.index('--out') + 1]\n"
        "rec = {'epoch_s': [9.0, 1.0, 5.0, 1.2], 'mean_epoch_s_excl_first': 2.4,\n"
        "       'first_epoch_s': 9.0, 'peak_rss_mb': 10.0, 'valid_mse': 0.02}\n"
        "open(out, 'w').write(json.dumps(rec) + '\\n')\n")
    k = bench.keras("gru", sys.executable, script, epochs=4, seed=1)
    assert k["seconds_per_epoch"] == 1.2  # not the mean 2.4 a slow epoch pulls up
    assert k["first_epoch_seconds"] == 9.0 and k["valid_mse"] == 0.02
