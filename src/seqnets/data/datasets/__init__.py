"""Real, public-domain series shipped with the package, so that everything runs offline.

    df = load_dataset("co2_weekly")                  # columns ds (datetime), y (float)
    ss = read_series(df, fill="interpolate")          # the CO2 record has missing weeks

Sources, licences and how the files were made: README.md in this folder.
"""

from __future__ import annotations

from importlib import resources

from ...errors import ConfigError

__all__ = ["dataset_info", "dataset_names", "default_dataset", "load_dataset", "shipped"]

_DATASETS = {
    "co2_weekly": {
        "file": "co2_weekly.csv",
        "description": "Atmospheric CO2 at Mauna Loa, Hawaii: weekly means (Saturdays), "
                       "1958-03-29 to 2001-12-29, 2,284 weeks, 59 of them missing (empty "
                       "cells; read with fill=...)",
        "unit": "ppm (parts per million by volume, mole fraction)",
        "freq": "W-SAT",
        "season": 52,
        "missing": 59,
        "source": "Scripps Institution of Oceanography (Keeling and Whorf 2004), via CDIAC; "
                  "as shipped by statsmodels (statsmodels.datasets.co2). Public domain.",
    },
    "elnino_monthly": {
        "file": "elnino_monthly.csv",
        "description": "Sea-surface temperature of the eastern tropical Pacific (Nino 1+2 "
                       "region, 0-10S, 90W-80W): monthly means, 1950-01 to 2010-12, 732 "
                       "months, none missing",
        "unit": "degrees Celsius",
        "freq": "MS",
        "season": 12,
        "missing": 0,
        "source": "NOAA National Weather Service, Climate Prediction Center, ERSST.v3b Nino "
                  "1+2 index; as shipped by statsmodels (statsmodels.datasets.elnino). "
                  "Public domain.",
    },
}


def dataset_names() -> list[str]:
    """The names ``load_dataset`` accepts."""
    return sorted(_DATASETS)


def dataset_info(name: str) -> dict:
    """What a shipped dataset holds: description, unit, frequency alias, season length (steps),
    number of missing values, source and file name."""
    return dict(_entry(name))


def load_dataset(name: str):
    """A shipped series as a DataFrame with columns ``ds`` (datetime64) and ``y`` (float64),
    one row per step on a regular grid; missing values are NaN, as in the file."""
    from ..series import require_pandas

    pd = require_pandas()
    entry = _entry(name)
    with resources.files(__name__).joinpath(entry["file"]).open("r", encoding="utf-8") as f:
        frame = pd.read_csv(f, parse_dates=["ds"], dtype={"y": "float64"})
    return frame


def default_dataset() -> str:
    """The dataset commands use when given no data: the first name."""
    return dataset_names()[0]


def shipped(name: str | None = None, fill: str | None = None) -> tuple:
    """``(frame, read options)`` for fitting on a shipped dataset (the default one when
    ``name`` is None): its columns ``ds`` and ``y``, and ``fill="interpolate"`` when it has
    missing values and no ``fill`` was chosen, so that it reads as it is."""
    name = default_dataset() if name is None else name
    info = dataset_info(name)
    options = {"time": "ds", "target": "y", "id": None,
               "fill": fill if fill is not None or not info["missing"] else "interpolate"}
    return load_dataset(name), options


def _entry(name: str) -> dict:
    if name not in _DATASETS:
        raise ConfigError(f"no dataset {name!r}; the shipped datasets are {dataset_names()}")
    return _DATASETS[name]
