"""Docs that cannot lie: every Python block of the README and docs/ runs, every ``seqnets``
command line they show runs (with small settings), and the API reference builds without a
warning.

Python blocks of one page run in order in one namespace, in a fresh folder. Shell blocks
(```bash, ```sh) are read line by line: a line that starts with ``seqnets`` runs through
``seqnets.cli.main`` in that folder, in order, with the settings below shrunk so the suite
stays quick; other lines (``./dev``, ``python benchmarks/...``) are the reader's set-up and
measurements, run by CI itself and by the benchmarks. Commands that need other software (a
Keras environment) or take many minutes are shown in ```text blocks, which are not run.
"""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import pytest

from seqnets.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
# small settings: each option, if present, takes this value
SMALL = {"--epochs": "1", "--seeds": "42", "--mc-samples": "5", "--folds": "2",
         "--repeats": "1", "--workers": "1"}
# commands that train many models take one or two experiments
FEW = {"reproduce": "naive,linear", "demo": "naive,linear", "bench": "linear"}


def blocks(page: Path, languages: tuple[str, ...]) -> list[str]:
    return [m[2] for m in FENCE.finditer(page.read_text(encoding="utf-8"))
            if m[1].lower() in languages]


def cli_lines(page: Path) -> list[str]:
    lines = []
    for block in blocks(page, ("bash", "sh", "shell")):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("seqnets "):
                lines.append(line)
    return lines


def small(argv: list[str]) -> list[str]:
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg in SMALL:
            out[i + 1] = SMALL[arg]
    command = out[0]
    if command == "bench" and "--epochs" in out:
        out[out.index("--epochs") + 1] = "2"  # bench drops its first epoch
    if command in FEW:
        if "--only" in out:
            out[out.index("--only") + 1] = FEW[command]
        else:
            out += ["--only", FEW[command]]
        if command in ("reproduce", "demo"):
            out += [] if "--workers" in out else ["--workers", "1"]
            out += [] if "--no-plots" in out else ["--no-plots"]
            out += [] if "--epochs" in out else ["--epochs", "1"]
    return out


PYTHON_PAGES = [p for p in PAGES if blocks(p, ("python", "py"))]
CLI_PAGES = [p for p in PAGES if cli_lines(p)]


def test_there_are_docs_to_check():
    assert (ROOT / "docs").is_dir() and PYTHON_PAGES and CLI_PAGES


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=lambda p: p.name)
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(blocks(page, ("python", "py"))):
        try:
            exec(compile(code, f"{page.name} python block {i + 1}", "exec"), namespace)
        except Exception as err:  # noqa: BLE001 - say which block failed
            pytest.fail(f"{page.name}, python block {i + 1} failed: {err!r}\n{code}")


@pytest.mark.parametrize("page", CLI_PAGES, ids=lambda p: p.name)
def test_cli_lines_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for line in cli_lines(page):
        argv = small(shlex.split(line)[1:])
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 0, f"{page.name}: `{line}` (run as {argv}) exited {code}: {err}"


def test_small_settings_shrink_what_a_line_asks():
    assert small(["train", "--dataset", "co2_weekly", "--epochs", "20", "--out", "fc"]) == \
        ["train", "--dataset", "co2_weekly", "--epochs", "1", "--out", "fc"]
    assert small(["reproduce"]) == ["reproduce", "--only", "naive,linear", "--workers", "1",
                                    "--no-plots", "--epochs", "1"]


API_MODULES = ["seqnets", "seqnets.layers.ops", "seqnets.models", "seqnets.training",
               "seqnets.forecast", "seqnets.classify", "seqnets.chapter", "seqnets.io",
               "seqnets.checks", "seqnets.cli", "seqnets.plotting", "seqnets.music"]


def test_the_api_reference_builds_without_warnings(tmp_path):
    pdoc = pytest.importorskip("pdoc", reason="the docs extra: pip install -e '.[docs]'")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*API_MODULES, output_directory=tmp_path)
    assert not [str(w.message) for w in caught]
    assert (tmp_path / "seqnets" / "forecast.html").is_file()
    assert (tmp_path / "seqnets" / "layers" / "ops" / "dispatch.html").is_file()
