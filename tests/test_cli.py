"""The seqnets command: output, files, and clear errors without tracebacks."""

import pytest

from seqnets.cli import main


def test_zoo_lists_every_model(capsys):
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    for name in ("deep_rnn", "conv_gru", "wavenet", "wavenet_full", "encoder_decoder"):
        assert name in out


def test_zoo_prints_a_keras_style_summary(capsys):
    assert main(["zoo", "deep_rnn"]) == 0
    assert "Total params: 1,282" in capsys.readouterr().out


def test_reproduce_runs_and_writes_files(tmp_path, capsys):
    code = main(["reproduce", "--only", "naive,lstsq_linear", "--seeds", "3", "--epochs", "1",
                 "--workers", "1", "--out", str(tmp_path), "--no-plots"])
    assert code == 0
    out = capsys.readouterr().out
    assert "| naive |" in out and "Wall time" in out
    assert (tmp_path / "results.json").exists() and (tmp_path / "report.md").exists()


def test_reproduce_judges_its_20_epochs_against_the_chapters_bars(tmp_path, capsys,
                                                                  monkeypatch):
    from seqnets.chapter import experiments

    def run(name, seed, epochs=20, quiet=True, cache=None):
        value = {"naive": 0.0202, "linear": 0.0045}[name]  # linear: above the chapter's 0.0042
        return {"experiment": name, "seed": seed, "epochs": epochs, "valid_mse": value,
                "test_mse": value, "params": 1, "wall_seconds": 0.0}

    monkeypatch.setattr(experiments, "run", run)
    assert main(["reproduce", "--only", "naive,linear", "--workers", "1", "--no-plots",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| chapter | bar | verdict | s/epoch |" in out and "bar for" not in out
    assert "| ≤ 0.0042 | misses |" in out and "  linear beats naive: yes" in out
    assert "Files in" in out and "Next:" not in out  # what to try next: the demo's ending


def test_unknown_experiment_is_a_clear_error(tmp_path, capsys):
    code = main(["reproduce", "--only", "nope", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown experiment 'nope'" in err and "Traceback" not in err


def test_bad_seeds_are_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["reproduce", "--seeds", "a,b"])
    assert exit_info.value.code == 2
    assert "seeds must be integers" in capsys.readouterr().err


def test_native_command_builds_or_reports(capsys, monkeypatch):
    from seqnets.layers.ops import native

    if native.library() is None:
        assert main(["native"]) == 1
        assert "error" in capsys.readouterr().err
    else:
        assert main(["native"]) == 0
        assert native.library_name() in capsys.readouterr().out
    monkeypatch.setenv("SEQNETS_NATIVE", "0")
    assert main(["native"]) == 0
    assert "turned off" in capsys.readouterr().out
