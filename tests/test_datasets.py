"""Shipped real datasets: present, documented, loadable offline, and valid for read_series."""

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from seqnets.data import dataset_info, dataset_names, load_dataset, read_series
from seqnets.errors import ConfigError, DataError

FILES = resources.files("seqnets.data.datasets")


def test_names_files_and_source_note():
    assert dataset_names() == ["co2_weekly", "elnino_monthly"]
    note = FILES.joinpath("README.md").read_text(encoding="utf-8")
    for name in dataset_names():
        info = dataset_info(name)
        data = FILES.joinpath(info["file"])
        assert data.is_file() and len(data.read_bytes()) < 300_000
        assert name in note and info["file"] in note and "public domain" in info["source"].lower()
    assert note.count("public domain") >= 2 and "statsmodels 0.15.0" in note


@pytest.mark.parametrize("name, n, lo, hi", [("co2_weekly", 2284, 313.0, 374.0),
                                             ("elnino_monthly", 732, 18.0, 30.0)])
def test_load_dataset_gives_ds_and_y_on_a_regular_grid(name, n, lo, hi):
    df = load_dataset(name)
    info = dataset_info(name)
    assert list(df.columns) == ["ds", "y"] and len(df) == n
    assert pd.api.types.is_datetime64_any_dtype(df["ds"]) and df["y"].dtype == np.float64
    assert df["y"].isna().sum() == info["missing"]
    assert lo <= df["y"].min() and df["y"].max() <= hi
    ss = read_series(df, fill="interpolate", min_length=n)
    assert ss.freq == info["freq"] and ss.lengths == (n,)
    assert np.isfinite(ss.values[0]).all()


def test_co2_keeps_its_missing_weeks_for_the_caller_to_fill():
    with pytest.raises(DataError, match=r"missing values.*column 'y': 59 missing at 1958-05-10"):
        read_series(load_dataset("co2_weekly"))


def test_known_values():
    co2 = load_dataset("co2_weekly").set_index("ds")["y"]
    assert co2[pd.Timestamp("1958-03-29")] == 316.1 and co2[pd.Timestamp("2001-12-29")] == 371.5
    sst = load_dataset("elnino_monthly").set_index("ds")["y"]
    assert sst[pd.Timestamp("1950-01-01")] == 23.11 and sst[pd.Timestamp("1950-02-01")] == 24.2


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"no dataset 'sunspots'.*co2_weekly.*elnino_monthly"):
        load_dataset("sunspots")
