"""Crafted model folders are refused before they cost memory or time: configs that would
allocate gigabytes, nest without end, point outside the folder or flood the message, and
damaged ``forecaster.json`` files (a ModelFileError naming what is wrong, exit 2 in the CLI)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

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


class _SideEffect:
    """Unpickling this runs a shell command: the payload of a hostile weights file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_a_weights_file_holding_a_pickle_is_refused_and_never_runs(saved, tmp_path, kind):
    marker = tmp_path / f"ran-{kind.replace('.', '')}"
    weights = saved / "model.safetensors"
    if kind == "pickle":
        weights.write_bytes(pickle.dumps({"payload": _SideEffect(marker)}))
    else:  # torch.save's zip archive, which holds a pickle too
        torch.save({"weight": torch.zeros(2), "payload": _SideEffect(marker)}, weights)
    blob = weights.read_bytes()
    # the config vouches for the new file, so the loader really reads it
    edit(saved, lambda c: c["weights"].update(sha256=hashlib.sha256(blob).hexdigest(),
                                              bytes=len(blob)))
    with pytest.raises(ModelFileError):
        sn.load(saved)
    assert not marker.exists()


def test_a_config_asking_for_1e9_units_costs_no_memory(saved):
    """In a fresh process (its peak RSS its own): loading the crafted model is refused and
    the peak stays that of importing torch, not the gigabytes 10**9 units would take."""
    edit(saved, lambda c: c["architecture"]["config"]["layers"][0]["config"].update(
        units=10**9))
    probe = ("import resource, sys, seqnets as sn\n"
             "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
             "try:\n    sn.load(sys.argv[1])\nexcept sn.errors.ModelFileError as e:\n"
             "    print('refused', e)\n"
             "print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", probe, str(saved)], capture_output=True,
                          text=True, timeout=120)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("refused") and "cannot exist" in lines[0], done.stderr
    before, after = (int(v) for v in lines[-1].split())   # KiB
    assert after - before < 64 * 1024, (before, after)      # < 64 MiB more than the import
