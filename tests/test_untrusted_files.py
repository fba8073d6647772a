"""Crafted model folders are refused before they cost memory or time: configs that would
allocate gigabytes, nest without end, point outside the folder or flood the message, and
damaged ``forecaster.json`` files (a ModelFileError naming what is wrong, exit 2 in the CLI)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

import seqnets as sn
from seqnets import Forecaster
from seqnets.cli import main
from seqnets.errors import ModelFileError


@pytest.fixture
def saved(tmp_path):
    return sn.save(sn.zoo.build("gru", seed=0), tmp_path / "m")


def edit(folder, change, name="config.json"):
    path = folder / name
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def test_a_config_asking_for_gigabytes_is_refused_before_allocating(saved):
    def huge(config):
        config["architecture"]["config"]["layers"][0]["config"]["units"] = 10**9

    edit(saved, huge)
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match="cannot exist"):
        sn.load(saved)          # built on the meta device first: nothing allocated
    # large but representable: the shapes differ from the weights the file holds
    edit(saved, lambda c: c["architecture"]["config"]["layers"][0]["config"].update(
        units=40_000))
    with pytest.raises(ModelFileError, match="has shape"):
        sn.load(saved)
    assert time.perf_counter() - start < 5


def test_the_weights_file_must_lie_inside_the_model_folder(saved, tmp_path):
    (tmp_path / "outside.safetensors").write_bytes((saved / "model.safetensors").read_bytes())
    for name in ("../outside.safetensors", "/etc/passwd", "", ".."):
        edit(saved, lambda c, n=name: c["weights"].update(file=n))
        with pytest.raises(ModelFileError, match="a file name inside the model folder"):
            sn.load(saved)


def test_deep_nesting_and_huge_configs_get_short_errors(saved):
    (saved / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelFileError, match="nested too deeply|not a seqnets") as err:
        sn.load(saved)
    assert len(str(err.value)) < 1000
    with pytest.raises(ModelFileError, match="more than the 1000 a model config"):
        sn.read_config(saved, max_bytes=1000)
    big = {"format": "seqnets-model", "format_version": 1, "weights": {},
           "architecture": {"class_name": "X" * 10**6, "config": {}}}
    (saved / "config.json").write_text(json.dumps(big))
    with pytest.raises(ModelFileError) as err:
        sn.load(saved)
    assert len(str(err.value)) < 1500


@pytest.fixture
def saved_forecaster(tmp_path):
    y = np.sin(np.arange(80) / 3)
    fc = Forecaster("mlp", window=8, horizon=2, strategy="direct", epochs=0, dropout=0.0,
                    uncertainty="conformal").fit(y, time=None)
    return fc.save(tmp_path / "fc")


@pytest.mark.parametrize("change, match", [
    (lambda s: s.pop("params"), r"no entry 'params'"),
    (lambda s: s["series"].pop("values"), r"no entry 'values'"),
    (lambda s: s["params"].update(horizon=-1), "does not describe a Forecaster: horizon"),
    (lambda s: s["params"].update(bogus=1), "does not describe a Forecaster"),
    (lambda s: s["series"].update(values=[[["a"]]]), "does not describe a Forecaster"),
    (lambda s: s.update(scores="many"), "does not describe a Forecaster"),
])
def test_a_damaged_forecaster_json_is_refused_naming_the_problem(saved_forecaster, change,
                                                                 match, tmp_path, capsys):
    edit(saved_forecaster, change, "forecaster.json")
    with pytest.raises(ModelFileError, match=match):
        Forecaster.load(saved_forecaster)
    out = tmp_path / "f.csv"
    assert main(["forecast", str(saved_forecaster), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seqnets: error:") and "Traceback" not in err and not out.exists()


def test_a_forecaster_json_over_the_limit_is_refused_unread(saved_forecaster):
    with pytest.raises(ModelFileError, match="more than max_bytes"):
        Forecaster.load(saved_forecaster, max_bytes=100)
    assert Forecaster.load(saved_forecaster).horizon == 2
