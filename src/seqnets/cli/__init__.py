"""The ``seqnets`` command: a thin layer over the Python API, one module per command group.

    seqnets demo                       # the chapter's models, briefly   (cli/chapter.py)
    seqnets reproduce | bench | zoo | native
    seqnets train --data sales.csv --id store --window 32 --horizon 8 --out fc/
    seqnets forecast fc/ --out forecast.csv   (and backtest, impute: cli/forecast.py)
    seqnets chorales train | evaluate | generate | demo   (Bach chorales: cli/chorales.py)
    seqnets classify train | evaluate | predict | demo   (sequence classification: cli/classify.py)

Errors seqnets raises on purpose (and unwritable paths) print ``seqnets: error: <message>``
and exit with 2, without a traceback. A failing run writes nothing: inputs and output paths
are checked first, and files are written atomically once the work is done.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Sequence

from ..errors import SeqnetsError, TrainingInterrupted, as_flags
from ..training.distributed import is_main_process
from ..training.signals import EXIT_CODES
from . import chapter, chorales, classify, forecast

__all__ = ["as_flags", "build_parser", "main"]

GROUPS = (chapter, forecast, classify, chorales)  # each adds its subcommands (add_commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqnets", description="Sequence models with RNNs and CNNs on PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def one_line(message: str) -> str:
    """``message`` on one line: a message quoting another library's (pandas ends its parser
    errors with a newline) keeps stderr to the single ``seqnets: error:`` line."""
    message = re.sub(r"\s*\n\s*(?=[.,;:)])", "", message.strip())
    return re.sub(r"\s*\n\s*", " ", message)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not is_main_process():  # under torchrun rank 0 alone reports (errors still show)
            with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                return args.func(args)
        return args.func(args)
    except TrainingInterrupted as err:  # a checkpoint was written: say how to go on
        print(f"seqnets: {err}", file=sys.stderr)
        return EXIT_CODES.get(err.signal, 130)
    except (SeqnetsError, OSError) as err:  # OSError: a path that cannot be written
        print(f"seqnets: error: {one_line(as_flags(str(err)))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seqnets: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
