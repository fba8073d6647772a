"""``seqnets reproduce`` stopped by a signal leaves no process behind and says how to
continue; finished runs are kept, and a rerun skips them (other settings never mix)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqnets.chapter import experiments, reproduce
from seqnets.cli import main
from seqnets.errors import ConfigError


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a live process, else None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid, pgrp = text.rsplit(")", 1)[1].split()[:3]
    return None if state in "ZX" else (state, int(ppid), int(pgrp))


def _alive(pids) -> list[int]:
    return [p for p in pids if _stat(p) is not None]


def _group(pgid: int) -> list[int]:
    """Live processes of the process group ``pgid``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[2] == pgid:
                out.append(int(entry))
    return out


def _workers(pid: int) -> list[int]:
    """The pool's worker processes among ``pid``'s children."""
    found = []
    for child in _group(pid):
        st = _stat(child)
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if st is not None and st[1] == pid and b"spawn_main" in cmdline:
            found.append(child)
    return found


def _wait_for(condition, seconds: float, what: str):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _start(out: Path, only: str) -> subprocess.Popen:
    # its own session: the process group tells every process it started, even reparented
    cmd = [sys.executable, "-m", "seqnets.cli", "reproduce", "--only", only, "--seeds", "1",
           "--epochs", "50", "--workers", "2", "--out", str(out), "--no-plots"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _stop(proc: subprocess.Popen, signum: int) -> tuple[str, str]:
    try:
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # the test failed: do not leave the run behind either
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return out, err


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_sigterm_stops_the_workers_keeps_finished_runs_and_says_how_to_continue(tmp_path):
    out = tmp_path / "out"
    proc = _start(out, "naive,gru")
    try:
        workers = _wait_for(lambda: _workers(proc.pid), 60, "the worker processes")
        # naive finishes in a moment, gru trains for 50 epochs: stop in between
        _wait_for((out / "runs" / "naive-seed1.json").exists, 60, "the first finished run")
        workers = sorted(set(workers) | set(_workers(proc.pid)))
        assert _alive(workers), "gru's worker should still be training"
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    stdout, stderr = _stop(proc, signal.SIGTERM)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM: 1 of 2 runs finished" in stderr
    assert "run the same command again to continue" in stderr and "Traceback" not in stderr
    # nothing it started outlives it: workers, the resource tracker, anything in its group
    _wait_for(lambda: not _group(proc.pid), 10, f"no process left in group {proc.pid}")
    assert not _alive(workers)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_sigint_stops_the_workers_too(tmp_path):
    proc = _start(tmp_path / "out", "gru")
    try:
        workers = _wait_for(lambda: _workers(proc.pid), 60, "the worker process")
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    _, stderr = _stop(proc, signal.SIGINT)
    assert proc.returncode == 128 + signal.SIGINT
    assert "stopped by SIGINT: 0 of 1 runs finished" in stderr and "Traceback" not in stderr
    _wait_for(lambda: not _group(proc.pid), 10, f"no process left in group {proc.pid}")
    assert not _alive(workers)


def test_a_rerun_skips_finished_runs_and_never_mixes_other_settings(tmp_path, monkeypatch,
                                                                     capsys):
    calls, lines = [], []
    real = experiments.run

    def counted(name, seed, epochs, **kw):
        calls.append(name)
        return real(name, seed, epochs, **kw)

    monkeypatch.setattr(experiments, "run", counted)
    kw = dict(seeds=[1], out=tmp_path, workers=1, plots=False, log=lines.append)
    first = reproduce.reproduce(["naive"], epochs=1, **kw)
    assert calls == ["naive"] and (tmp_path / "runs" / "naive-seed1.json").exists()

    calls.clear()
    lines.clear()
    second = reproduce.reproduce(["naive", "naive_10"], epochs=1, **kw)
    assert calls == ["naive_10"]  # naive was finished: skipped, and said so
    assert lines[0].startswith("1 of 2 runs already finished in")
    assert second["runs"][0]["valid_mse"] == first["runs"][0]["valid_mse"]
    assert [r["experiment"] for r in second["runs"]] == ["naive", "naive_10"]

    calls.clear()
    with pytest.raises(ConfigError, match="made with 1 epochs.*not 2 epochs.*--fresh"):
        reproduce.reproduce(["naive"], epochs=2, **kw)
    assert calls == []
    args = ["reproduce", "--only", "naive", "--seeds", "1", "--epochs", "2", "--workers", "1",
            "--out", str(tmp_path), "--no-plots"]
    assert main(args) == 2
    assert "must not mix" in capsys.readouterr().err
    assert main([*args, "--fresh"]) == 0
    assert calls == ["naive"]  # started over: made again, with the new settings
