"""FitConfig: fit's settings as one validated object a checkpoint can store and read back."""

from __future__ import annotations

import json
import math

import pytest
import torch

import seqnets as sn
from seqnets.errors import ConfigError
from seqnets.layers import Dense
from seqnets.training import FitConfig, fit_config


def test_round_trip_through_json():
    cfg = FitConfig(epochs=3, batch_size=16, optimizer="sgd", lr=0.05, loss="mae",
                    metrics=["mse"], clipnorm=1.0, shuffle=False, seed=7, threads=1, quiet=True)
    again = FitConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_objects_are_recorded_by_name_and_must_be_passed_again():
    def my_loss(out, y):
        return ((out - y) ** 2).mean()

    cfg = FitConfig(loss=my_loss, metrics=["mae", my_loss])
    data = json.loads(json.dumps(cfg.to_dict()))
    assert data["loss"] == "my_loss" and data["metrics"] == ["mae", "my_loss"]
    with pytest.raises(ConfigError, match="loss"):
        FitConfig.from_dict(data)
    again = FitConfig.from_dict(data, loss=my_loss, metrics=["mae", my_loss])
    assert again.loss is my_loss and again.metrics == ("mae", my_loss)


@pytest.mark.parametrize("settings, says", [
    ({"epochs": -1}, "epochs must be a non-negative integer"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"lr": 0.0}, "lr must be a positive finite number"),
    ({"lr": -1e-3}, "lr must be a positive finite number"),
    ({"lr": math.nan}, "lr must be a positive finite number"),
    ({"threads": 0}, "threads must be a positive integer"),
    ({"clipnorm": 0}, "clipnorm must be positive"),
])
def test_bad_settings_are_refused_by_name(settings, says):
    with pytest.raises(ConfigError, match=says):
        FitConfig(**settings)
    model = sn.Sequential([Dense(1)], input_size=2)
    with pytest.raises(ConfigError, match=says):
        sn.fit(model, (torch.zeros(4, 2), torch.zeros(4, 1)), **settings)


def test_unknown_settings_are_refused():
    with pytest.raises(ConfigError, match="unknown fit settings"):
        FitConfig.from_dict({"epochs": 1, "epoch": 2})


def test_fit_config_trains_as_fit_does():
    x, y = torch.randn(64, 3), torch.randn(64, 1)
    runs = []
    for use_config in (False, True):
        model = sn.Sequential([Dense(1)], input_size=3, seed=0)
        if use_config:
            hist = fit_config(model, (x, y), None, FitConfig(epochs=2, seed=3, quiet=True))
        else:
            hist = sn.fit(model, (x, y), epochs=2, seed=3, quiet=True)
        runs.append((hist["loss"], model.layers[0].weight.detach().clone()))
    assert runs[0][0] == runs[1][0]
    assert torch.equal(runs[0][1], runs[1][1])
