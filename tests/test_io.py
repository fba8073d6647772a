"""save / load: bit-identical round trips, no pickle, atomic writes, clear errors."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import struct

import numpy as np
import pytest
import torch

import seqnets as sn
from seqnets.errors import ConfigError, ModelFileError, OutputExistsError
from seqnets.layers import Dense, SimpleRNN

SEQ = torch.from_numpy(np.random.default_rng(0).normal(size=(6, 50, 1)).astype(np.float32))


def weights(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def train_a_little(model, steps=2):
    """A few SGD steps on the model's own outputs + noise: changes weights and BN stats."""
    x = SEQ.numpy()
    with torch.no_grad():
        y = model(SEQ).numpy()
    y = y + np.random.default_rng(1).normal(size=y.shape).astype(np.float32)
    sn.fit(model, (x, y), epochs=1, batch_size=len(x) // steps, optimizer="adam", lr=0.01,
           seed=0, quiet=True)


def perturb(model):
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.1)


ZOO_CASES = [
    ("bn_rnn", {}),
    ("ln_rnn", {}),
    ("peephole_lstm", {}),
    ("conv_gru", {}),
    ("wavenet_full", {"blocks": 1, "layers_per_block": 2, "channels": 4}),
    ("encoder_decoder", {}),
    ("linear", {}),
    ("gru_dropout", {}),
]


@pytest.mark.parametrize(("name", "options"), ZOO_CASES, ids=[c[0] for c in ZOO_CASES])
def test_save_load_predict_is_bit_identical(tmp_path, name, options):
    model = sn.zoo.build(name, seed=0, **options)
    if name == "bn_rnn":  # train, so that the moving statistics leave their initial values
        train_a_little(model)
        bn = model.layers[1]
        assert not torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
        assert not torch.equal(bn.running_var, torch.ones_like(bn.running_var))
    else:  # random weights everywhere, biases too (Keras initialises them to zero)
        perturb(model)
    expected = sn.predict(model, SEQ)
    folder = sn.save(model, tmp_path / name, metadata={"note": name})
    assert folder == tmp_path / name
    loaded = sn.load(folder)
    assert type(loaded) is type(model) and not loaded.training
    assert loaded.config() == model.config()
    assert weights(loaded).keys() == weights(model).keys()
    for k, v in weights(model).items():
        assert torch.equal(weights(loaded)[k], v), k
    assert torch.equal(sn.predict(loaded, SEQ), expected)
    assert sn.read_config(folder)["metadata"] == {"note": name}
    # saving the loaded model again gives the same weights file, byte for byte
    sn.save(loaded, tmp_path / "again")
    assert (tmp_path / "again" / "model.safetensors").read_bytes() == \
        (folder / "model.safetensors").read_bytes()


def _plain_json(value):
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def _no_nan(token):
    raise AssertionError(f"config.json holds a non-standard constant {token}")


def test_files_are_plain_json_and_safetensors(tmp_path):
    model = sn.zoo.build("bn_rnn", seed=0)
    folder = sn.save(model, tmp_path / "m", metadata={"lr": 1e-3, "tags": ["a", 1, None]})
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text(), parse_constant=_no_nan)
    assert _plain_json(config)
    assert config["format"] == "seqnets-model" and config["format_version"] == 1
    assert config["seqnets_version"] == sn.__version__
    assert config["architecture"]["class_name"] == "Sequential"
    blob = (folder / "model.safetensors").read_bytes()
    assert config["weights"]["sha256"] == hashlib.sha256(blob).hexdigest()
    assert config["weights"]["bytes"] == len(blob)
    assert config["weights"]["tensors"]["layers.1.running_mean"] == ["float32", [20]]
    # safetensors: an 8-byte little-endian header length, then a JSON header; no pickle
    # protocol header (b"\x80") and no zip archive (torch.save's format)
    assert not blob.startswith(b"\x80") and not blob.startswith(b"PK")
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    assert set(header) - {"__metadata__"} == set(model.state_dict())
    assert header["__metadata__"] == {"format": "seqnets-model"}


def test_load_never_unpickles(tmp_path, monkeypatch):
    model = sn.zoo.build("lstm", seed=0)
    folder = sn.save(model, tmp_path / "m")

    def forbidden(*args, **kwargs):
        raise AssertionError("load must not unpickle")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    loaded = sn.load(folder)
    assert torch.equal(sn.predict(loaded, SEQ), sn.predict(model, SEQ))


def test_metadata_and_path_errors(tmp_path):
    model = sn.zoo.build("simple_rnn", seed=0)
    with pytest.raises(ConfigError, match="metadata must be plain JSON"):
        sn.save(model, tmp_path / "m", metadata={"when": object()})
    with pytest.raises(ConfigError, match="metadata must be plain JSON"):
        sn.save(model, tmp_path / "m", metadata={"array": np.zeros(2)})
    assert not (tmp_path / "m").exists()  # nothing written
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelFileError, match="not a folder"):
        sn.save(model, tmp_path / "file")


def test_unregistered_module_cannot_be_saved(tmp_path):
    with pytest.raises(ConfigError, match="cannot save Linear.*register"):
        sn.save(torch.nn.Linear(2, 1), tmp_path / "m")


def test_save_overwrites_on_request_and_creates_parents(tmp_path):
    a = sn.zoo.build("seq2seq_rnn", seed=0)
    b = sn.zoo.build("seq2seq_rnn", seed=1)
    target = tmp_path / "deep" / "er" / "m"
    sn.save(a, target)
    with pytest.raises(OutputExistsError, match="already holds a saved model; pass "
                                                "overwrite=True"):
        sn.save(b, target)
    assert torch.equal(sn.predict(sn.load(target), SEQ), sn.predict(a, SEQ))
    assert isinstance(OutputExistsError("x"), FileExistsError)
    sn.save(b, target, overwrite=True)
    assert torch.equal(sn.predict(sn.load(target), SEQ), sn.predict(b, SEQ))
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "model.safetensors"]


# ------------------------------------------------------------------------------------------
# damaged, missing and foreign files: always a ModelFileError (an OSError) naming the file
# ------------------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    model = sn.Sequential([SimpleRNN(5, return_sequences=True), SimpleRNN(4), Dense(2)],
                          input_size=1, seed=0)
    return sn.save(model, tmp_path / "model")


def _edit_config(folder, change):
    path = folder / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def test_model_file_error_is_an_oserror():
    assert issubclass(ModelFileError, OSError)


def test_missing_folder(tmp_path):
    with pytest.raises(ModelFileError, match=r"no saved model at .*nowhere.*does not exist"):
        sn.load(tmp_path / "nowhere")


def test_path_is_a_file(tmp_path):
    (tmp_path / "f").write_text("{}")
    with pytest.raises(ModelFileError, match="not a model folder"):
        sn.load(tmp_path / "f")


def test_missing_config(saved):
    (saved / "config.json").unlink()
    with pytest.raises(ModelFileError, match=r"config\.json is missing"):
        sn.load(saved)


def test_missing_weights(saved):
    (saved / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match=r"model\.safetensors is missing"):
        sn.load(saved)


def test_truncated_weights(saved):
    path = saved / "model.safetensors"
    blob = path.read_bytes()
    path.write_bytes(blob[:-37])
    with pytest.raises(ModelFileError,
                       match=rf"model\.safetensors.*truncated \({len(blob) - 37} of {len(blob)}"):
        sn.load(saved)


def test_tampered_weights(saved):
    path = saved / "model.safetensors"
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0x01  # one bit in the data region (the tensors follow the header)
    path.write_bytes(bytes(blob))
    with pytest.raises(ModelFileError, match=r"model\.safetensors.*SHA-256 differs.*modified"):
        sn.load(saved)


def test_garbage_weights_with_matching_hash(saved):
    path = saved / "model.safetensors"
    garbage = b"\x80\x04not a safetensors file"
    path.write_bytes(garbage)

    def fix(config):
        config["weights"]["sha256"] = hashlib.sha256(garbage).hexdigest()
        config["weights"]["bytes"] = len(garbage)

    _edit_config(saved, fix)
    with pytest.raises(ModelFileError, match=r"model\.safetensors is not a readable safetensors"):
        sn.load(saved)


def test_tampered_sha_in_config(saved):
    _edit_config(saved, lambda c: c["weights"].update(sha256="0" * 64))
    with pytest.raises(ModelFileError, match="SHA-256 differs"):
        sn.load(saved)


def test_config_shapes_do_not_fit_the_weights(saved):
    def more_units(config):
        config["architecture"]["config"]["layers"][1]["config"]["units"] = 7

    _edit_config(saved, more_units)
    with pytest.raises(ModelFileError,
                       match=r"model\.safetensors: tensor 'layers\.1\.cell\.weight_ih' has "
                             r"shape \(4, 5\), the architecture needs \(7, 5\)"):
        sn.load(saved)


def test_config_with_an_extra_layer(saved):
    def extra(config):
        config["architecture"]["config"]["layers"].append(
            {"class_name": "Dense", "config": {"units": 2}})

    _edit_config(saved, extra)
    with pytest.raises(ModelFileError, match=r"missing tensors \['layers\.3\.bias'"):
        sn.load(saved)


def test_invalid_json(saved):
    path = saved / "config.json"
    path.write_text(path.read_text()[:-20])
    with pytest.raises(ModelFileError, match=r"config\.json is not valid JSON"):
        sn.load(saved)
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelFileError, match=r"config\.json is not valid JSON"):
        sn.load(saved)


def test_not_a_seqnets_config(saved):
    (saved / "config.json").write_text(json.dumps({"format": "keras", "layers": []}))
    with pytest.raises(ModelFileError, match=r"config\.json is not a seqnets model config"):
        sn.load(saved)
    (saved / "config.json").write_text("[1, 2, 3]")
    with pytest.raises(ModelFileError, match="not a seqnets model config"):
        sn.load(saved)


def test_missing_config_entries(saved):
    _edit_config(saved, lambda c: c.pop("architecture"))
    with pytest.raises(ModelFileError, match="no 'architecture' entry"):
        sn.load(saved)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda c: c.update(weights="x"), "'weights' must be an object"),
        (lambda c: c["architecture"]["config"]["layers"][0].update(config=["abc"]),
         "cannot rebuild the architecture"),
        (lambda c: c["architecture"]["config"].update(layers=None),
         "cannot rebuild the architecture"),
        (lambda c: c.update(architecture=[1]), "cannot rebuild the architecture"),
        (lambda c: c["architecture"]["config"]["layers"][0]["config"].update(units="7"),
         "units must be a positive integer"),
    ],
    ids=["weights-not-object", "layer-config-list", "layers-null", "architecture-list",
         "units-string"],
)
def test_malformed_config_entries(saved, change, match):
    _edit_config(saved, change)
    with pytest.raises(ModelFileError, match=rf"config\.json.*{match}"):
        sn.load(saved)


def test_unknown_class_name(saved):
    def rename(config):
        config["architecture"]["config"]["layers"][0]["class_name"] = "EvilLayer"

    _edit_config(saved, rename)
    with pytest.raises(ModelFileError, match=r"config\.json: cannot rebuild the "
                                             r"architecture.*'EvilLayer'.*register"):
        sn.load(saved)


def test_unknown_layer_argument(saved):
    def bad(config):
        config["architecture"]["config"]["layers"][2]["config"]["exec"] = "import os"

    _edit_config(saved, bad)
    with pytest.raises(ModelFileError, match="cannot rebuild the architecture"):
        sn.load(saved)


@pytest.mark.parametrize("version", [2, "1", None])
def test_future_or_bad_format_version(saved, version):
    _edit_config(saved, lambda c: c.update(format_version=version))
    with pytest.raises(ModelFileError, match=rf"format version {version!r}.*upgrade seqnets"):
        sn.load(saved)


# ------------------------------------------------------------------------------------------
# atomic writes
# ------------------------------------------------------------------------------------------
def _leftovers(folder):
    """Hidden or temporary entries in the model folder and beside it."""
    return sorted(p.name for d in (folder, folder.parent) for p in d.iterdir()
                  if p.name.endswith(".tmp") or p.name.startswith("."))


def test_no_temporary_files_after_save(saved):
    assert _leftovers(saved) == []


def test_a_failed_save_keeps_the_old_model_whole(tmp_path, monkeypatch):
    """The second file's write dies: the folder is the old model, loadable, nothing left."""
    from seqnets.data import files

    old = sn.zoo.build("gru", seed=0)
    folder = sn.save(old, tmp_path / "m")
    real_write = files._write_synced
    calls = []

    def failing_write(path, data):
        calls.append(path)
        if len(calls) == 2:  # the weights are written; the config write dies
            raise OSError("disk full")
        return real_write(path, data)

    monkeypatch.setattr(files, "_write_synced", failing_write)
    with pytest.raises(OSError, match="disk full"):
        sn.save(sn.zoo.build("gru", seed=1), folder, overwrite=True)
    monkeypatch.undo()
    assert _leftovers(folder) == []
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    assert torch.equal(sn.predict(sn.load(folder), SEQ), sn.predict(old, SEQ))


@pytest.mark.parametrize("exchange", ["renameat2", "two renames"])
def test_a_save_over_a_model_swaps_the_folder_and_keeps_other_files(tmp_path, monkeypatch,
                                                                   exchange):
    import ctypes

    if exchange == "two renames":   # where renameat2 is missing: the fallback
        monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: object())
    folder = sn.save(sn.zoo.build("gru", seed=0), tmp_path / "m")
    (folder / "notes.txt").write_text("mine")
    (folder / "plots").mkdir()
    (folder / "plots" / "a.png").write_bytes(b"png")
    new = sn.zoo.build("gru", seed=1)
    assert sn.save(new, folder, overwrite=True) == folder
    assert torch.equal(sn.predict(sn.load(folder), SEQ), sn.predict(new, SEQ))
    assert (folder / "notes.txt").read_text() == "mine"
    assert (folder / "plots" / "a.png").read_bytes() == b"png"
    assert _leftovers(folder) == []


def test_a_failed_swap_keeps_the_old_model(tmp_path, monkeypatch):
    from seqnets.data import files

    old = sn.zoo.build("gru", seed=0)
    folder = sn.save(old, tmp_path / "m")

    def failing_exchange(new, target):
        raise OSError("disk full")

    monkeypatch.setattr(files, "_exchange", failing_exchange)
    with pytest.raises(OSError, match="disk full"):
        sn.save(sn.zoo.build("gru", seed=1), folder, overwrite=True)
    monkeypatch.undo()
    assert _leftovers(folder) == []
    assert torch.equal(sn.predict(sn.load(folder), SEQ), sn.predict(old, SEQ))


def test_stale_folders_of_killed_saves_are_removed(tmp_path):
    folder = sn.save(sn.zoo.build("gru", seed=0), tmp_path / "m")
    stale = tmp_path / ".m.0123456789abcdef.tmp"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    os.utime(stale, (0, 0))                      # long ago
    fresh = tmp_path / ".m.fedcba9876543210.tmp"  # maybe another process's, still writing
    fresh.mkdir()
    sn.save(sn.zoo.build("gru", seed=1), folder, overwrite=True)
    assert not stale.exists() and fresh.exists()


def test_interrupted_write_of_data(tmp_path, monkeypatch):
    """A crash while writing the bytes leaves no file under the name."""
    from seqnets.data import files as io  # the one atomic writer, under seqnets.io too

    real_fdopen = os.fdopen

    class Broken:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError("device went away")

    monkeypatch.setattr(io.os, "fdopen", lambda fd, mode: Broken(real_fdopen(fd, mode)))
    with pytest.raises(OSError, match="device went away"):
        io.atomic_write(tmp_path / "data.bin", b"0123456789")
    with pytest.raises(OSError, match="device went away"):
        sn.save(sn.zoo.build("gru", seed=0), tmp_path / "m")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


KILLED_SAVER = """
import sys, seqnets as sn
from seqnets import Forecaster
import numpy as np
folder, seed = sys.argv[1], 0
y = np.sin(np.arange(80) / 3)
fcs = [Forecaster("mlp", window=8, horizon=2, strategy="direct", epochs=0, seed=s,
                  dropout=0.0, uncertainty="conformal").fit(y, time=None) for s in (1, 2)]
print("ready", flush=True)
while True:
    fcs[seed % 2].save(folder, overwrite=True)
    seed += 1
"""


def test_a_save_killed_at_any_moment_leaves_a_whole_forecaster(tmp_path):
    """SIGKILL during Forecaster.save, again and again: the folder always loads, and its
    model and forecaster.json come from the same save (the forecast is one of the two)."""
    import signal
    import subprocess
    import sys
    import time

    from seqnets import Forecaster

    folder = tmp_path / "fc"
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_SAVER, str(folder)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.3 * rng.random())
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        fc = Forecaster.load(folder)
        seen.add(fc.seed)
        first = fc.predict(intervals=())["mean"].to_numpy()
        y = np.sin(np.arange(80) / 3)
        twin = Forecaster("mlp", window=8, horizon=2, strategy="direct", epochs=0,
                          seed=fc.seed, dropout=0.0, uncertainty="conformal").fit(y, time=None)
        np.testing.assert_allclose(first, twin.predict(intervals=())["mean"], rtol=1e-6)
    assert seen <= {1, 2}


def test_saved_files_follow_the_umask_not_private(tmp_path):
    import os
    import stat

    import seqnets as sn

    old = os.umask(0o022)
    try:
        folder = sn.save(sn.zoo.build("linear", seed=0), tmp_path / "m")
    finally:
        os.umask(old)
    for name in ("model.safetensors", "config.json"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644


def test_a_save_killed_at_25_random_moments_always_leaves_a_whole_model(tmp_path):
    """A forked child saves two models in turn over one folder, and is SIGKILLed at a random
    moment, 25 times: the folder always loads, as one of the two, predicting exactly as that
    model does (never new weights beside an old config)."""
    import os
    import signal
    import time

    models = [sn.zoo.build("gru", seed=s) for s in (0, 1)]
    x = torch.randn(3, 12, 1, generator=torch.Generator().manual_seed(0))
    expected = [sn.predict(m, x) for m in models]
    folder = tmp_path / "m"
    start = time.perf_counter()
    sn.save(models[0], folder)
    once = time.perf_counter() - start  # kills land within the first few saves, however slow
    rng = np.random.default_rng(0)
    for _ in range(25):
        pid = os.fork()
        if pid == 0:  # the child: save, save, save ... until killed
            try:
                for i in range(10**6):
                    sn.save(models[(i + 1) % 2], folder, overwrite=True)
            finally:
                os._exit(0)
        time.sleep(once * 4 * rng.random())
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        got = sn.predict(sn.load(folder), x)
        assert sum(torch.equal(got, e) for e in expected) == 1
