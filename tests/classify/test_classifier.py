"""The Classifier: fit / predict / score / save / load on variable-length data, labels of
either type, class weights, early stopping, reader outputs, and every refusal."""

import json

import numpy as np
import pytest
import torch

import seqnets as sn
from seqnets.classify import Classifier
from seqnets.classify.inputs import channel_stats, stratified_split
from seqnets.errors import ConfigError, DataError, ModelFileError, NotFittedError, ShapeError

TINY = {"padding": "same", "units": 8, "filters": (4, 4, 4)}


def toy(n=24, seed=0):
    """Two classes told apart by the sign of the first channel's trend; lengths 3..15."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        t = int(rng.integers(3, 16))
        sign = 1.0 if i % 2 else -1.0
        s = np.stack([sign * np.linspace(0, 1, t), rng.normal(0, 0.1, t)], axis=1)
        X.append((s + rng.normal(0, 0.05, s.shape)).astype(np.float32))
        y.append("up" if i % 2 else "down")
    return X, y


def tiny(**kw):
    return Classifier("sketch_gru", model_options=TINY, epochs=kw.pop("epochs", 25),
                      batch_size=8, lr=1e-2, validation=kw.pop("validation", 0.25),
                      patience=kw.pop("patience", 25), seed=0, **kw)


@pytest.fixture(scope="module")
def fitted():
    X, y = toy()
    return tiny().fit(X, y), X, y


def test_fit_predict_score_with_string_labels(fitted):
    clf, X, y = fitted
    assert list(clf.classes_) == ["down", "up"]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-5)
    assert clf.score(X, y) >= 0.9
    assert set(clf.predict(X)) <= {"down", "up"}
    assert clf.best_epoch_ <= len(clf.history_["loss"])
    report = clf.evaluate(X, y)
    assert report["accuracy"] == pytest.approx(clf.score(X, y))
    assert report["labels"] == ["down", "up"] and "top_2_accuracy" in report


def test_probabilities_do_not_depend_on_the_batch(fitted):
    clf, X, _ = fitted
    together = clf.predict_proba(X, batch_size=7)
    alone = np.concatenate([clf.predict_proba([x]) for x in X])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_save_and_load_keep_classes_scaling_and_predictions(fitted, tmp_path):
    clf, X, _ = fitted
    clf.save(tmp_path / "m")
    state = json.loads((tmp_path / "m" / "classifier.json").read_text())
    assert state["classes"] == ["down", "up"]
    again = Classifier.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    assert list(again.predict(X)) == list(clf.predict(X))
    assert again.get_params()["model"] == "sketch_gru"
    assert not any(p.suffix == ".pkl" for p in (tmp_path / "m").iterdir())


def test_integer_labels_stay_integers_through_a_file(tmp_path):
    X, y = toy(16)
    labels = [7 if v == "up" else 3 for v in y]
    clf = tiny(epochs=2, validation=0).fit(X, labels)
    assert clf.classes_.tolist() == [3, 7]
    clf.save(tmp_path / "m")
    pred = Classifier.load(tmp_path / "m").predict(X)
    assert pred.dtype.kind == "i" and set(pred.tolist()) <= {3, 7}


def test_same_seed_same_model():
    X, y = toy(16)
    a = tiny(epochs=3).fit(X, y).predict_proba(X)
    b = tiny(epochs=3).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_early_stopping_on_validation_and_class_weights(monkeypatch):
    X, y = toy(20)
    clf = tiny(epochs=30, patience=1, monitor="val_accuracy").fit(X, y)
    assert len(clf.history_["loss"]) < 30  # stopped early
    seen = {}
    original = torch.nn.functional.cross_entropy

    def spy(logits, target, weight=None, **kw):
        seen["weight"] = weight
        return original(logits, target, weight=weight, **kw)

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", spy)
    unbalanced, labels = X[:14], ["up"] * 11 + ["down"] * 3  # 11 vs 3 in training
    tiny(epochs=1, validation=0, class_weight="balanced").fit(unbalanced, labels)
    np.testing.assert_allclose(seen["weight"].numpy(), [14 / (2 * 3), 14 / (2 * 11)])
    tiny(epochs=1, validation=0, class_weight={"down": 4.0}).fit(unbalanced, labels)
    np.testing.assert_allclose(seen["weight"].numpy(), [4.0, 1.0])


def test_a_readers_output_is_taken_as_it_is(tmp_path):
    X, y = toy(12)
    sn.data.write_ts(tmp_path / "toy.ts", X, y, problem="Toy")
    data = sn.data.read_ts(tmp_path / "toy.ts")
    clf = tiny(epochs=1, validation=0).fit(data)
    assert clf.classes_.tolist() == ["down", "up"]
    assert 0 <= clf.score(data) <= 1


def test_split_and_scaling_by_hand():
    labels = np.array(["a"] * 10 + ["b"] * 5 + ["c"])
    tr, va = stratified_split(labels, 0.2, seed=0)
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(16))
    assert [int(np.sum(labels[va] == c)) for c in "abc"] == [2, 1, 0]
    mean, std = channel_stats([np.array([[0.0, 5], [2, 5]]), np.array([[4.0, 5]])])
    np.testing.assert_allclose(mean, [2, 5])
    np.testing.assert_allclose(std, [np.sqrt(8 / 3), 1.0])  # a constant channel: 1


@pytest.mark.parametrize("X, y, error, words", [
    ("abc", None, DataError, "list of arrays"),
    ([], [], DataError, "empty"),
    ([np.zeros((4, 2)), np.zeros((0, 2))], ["a", "b"], DataError, "sequence 1 is empty"),
    ([np.zeros((4, 2)), np.zeros((4, 3))], ["a", "b"], ShapeError, "same channels"),
    ([np.zeros((4, 2)), np.full((4, 2), np.nan)], ["a", "b"], DataError, "NaN"),
    ([np.zeros((4, 2)), np.zeros((4, 2))], ["a"], ShapeError, "one label per sequence"),
    ([np.zeros((4, 2)), np.zeros((4, 2))], ["a", "a"], DataError, "single class"),
    ([np.zeros((4, 2)), np.zeros((4, 2))], None, DataError, "y is missing"),
    ([np.zeros((4, 2)), np.zeros((4, 2))], [0.5, 1], DataError, "non-integer"),
    ([np.zeros((4, 2)), np.array([["x", "y"]])], ["a", "b"], DataError, "numeric"),
    ([np.zeros((2, 2, 2))] * 2, ["a", "b"], ShapeError, "must be"),
])
def test_bad_data_is_refused(X, y, error, words):
    with pytest.raises(error, match=words):
        tiny(epochs=1).fit(X, y)


@pytest.mark.parametrize("settings, words", [
    ({"model": "nope"}, "unknown classifier"),
    ({"epochs": 0}, "epochs"),
    ({"validation": 1.0}, "validation"),
    ({"monitor": "loss"}, "monitor"),
    ({"patience": 0}, "patience"),
    ({"class_weight": "some"}, "class_weight"),
    ({"class_weight": {"left": 2.0}}, "not a class"),
    ({"class_weight": {"up": -1.0}}, "finite and >= 0"),
    ({"max_length": -3}, "max_length"),
    ({"ensemble": 0}, "ensemble"),
    ({"seed": -1}, "seed must be a non-negative"),
    ({"model": sn.classify.build("sketch_gru", 2, 2, **TINY), "ensemble": 2}, "not a module"),
    ({"model_options": {"padding": "same", "colour": 3}}, "colour"),
])
def test_bad_settings_are_refused(settings, words):
    X, y = toy(8)
    model = settings.pop("model", "sketch_gru")
    options = settings.pop("model_options", TINY)
    with pytest.raises(ConfigError, match=words):
        Classifier(model, model_options=options, epochs=settings.pop("epochs", 1),
                   **settings).fit(X, y)


def test_an_ensemble_of_one_is_the_single_model(fitted):
    clf, X, y = fitted
    one = tiny(ensemble=1).fit(X, y)
    assert not isinstance(one.model_, sn.models.Ensemble)  # the module itself, not wrapped
    np.testing.assert_array_equal(one.predict_proba(X), clf.predict_proba(X))
    assert one.best_epochs_ == [one.best_epoch_]


def test_an_ensemble_averages_its_members_probabilities(fitted, tmp_path):
    clf, X, y = fitted
    trio = tiny(ensemble=3).fit(X, y)
    members = trio.model_.members
    assert len(members) == 3 and len(trio.best_epochs_) == 3
    # the first member is the single model; the others start from other weights
    first = members[0].state_dict()
    for name, tensor in clf.model_.state_dict().items():
        torch.testing.assert_close(first[name], tensor, rtol=0, atol=0)
    assert not torch.equal(next(members[1].parameters()), next(members[0].parameters()))
    # by hand: each member's softmax over the classes, then the mean
    x, lengths = sn.classify.inputs.padded(sn.classify.inputs.scaled(X, trio.mean_,
                                                                     trio.std_))
    with torch.no_grad():
        by_hand = torch.stack([torch.softmax(m(torch.from_numpy(x),
                                               lengths=torch.from_numpy(lengths)), -1)
                               for m in members]).mean(0).numpy()
    np.testing.assert_allclose(trio.predict_proba(X), by_hand, atol=1e-6)
    trio.save(tmp_path / "trio")
    back = Classifier.load(tmp_path / "trio")
    np.testing.assert_array_equal(back.predict_proba(X), trio.predict_proba(X))
    assert back.ensemble == 3 and back.best_epochs_ == trio.best_epochs_


def test_an_ensemble_says_which_member_it_trains_unless_quiet(capsys):
    X, y = toy(8)
    tiny(epochs=1, ensemble=2, quiet=False).fit(X, y)
    out = capsys.readouterr().out
    assert "ensemble member 1 of 2 (seed 0)" in out and "ensemble member 2 of 2" in out
    tiny(epochs=1, ensemble=2).fit(X, y)
    assert "ensemble member" not in capsys.readouterr().out


def test_member_seeds_are_spawned_and_do_not_overlap_between_seeds():
    from seqnets.classify.classifier import member_seeds

    assert member_seeds(7, 1) == [7]
    a, b = member_seeds(0, 5), member_seeds(1, 5)
    assert a[0] == 0 and b[0] == 1 and not set(a) & set(b)
    assert member_seeds(0, 5) == a and len(set(a)) == 5
    assert all(0 <= s < 2**63 for s in a + b)


def test_too_short_for_valid_convolutions_names_the_fix():
    X, y = toy(8)
    with pytest.raises(DataError, match=r"fewer than the 21 .*padding.: .same."):
        Classifier("sketch_gru", model_options={"units": 4}, epochs=1).fit(X, y)


def test_predicting_needs_a_fit_and_the_same_channels(fitted, tmp_path):
    X, _ = toy(4)
    with pytest.raises(NotFittedError):
        Classifier().predict(X)
    clf = fitted[0]
    with pytest.raises(DataError, match="fitted on"):
        clf.predict([np.zeros((5, 3))])
    with pytest.raises(DataError, match="not in the training data"):
        clf.evaluate(X, ["up", "sideways", "up", "down"])
    with pytest.raises(ModelFileError, match="no saved Classifier"):
        Classifier.load(tmp_path)
    (tmp_path / "classifier.json").write_text("{nope")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        Classifier.load(tmp_path)
