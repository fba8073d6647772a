"""Losses and metrics against NumPy references written here from their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqnets.errors import ConfigError, ShapeError
from seqnets.training.losses import (
    LOSSES,
    METRICS,
    accuracy,
    binary_crossentropy,
    crossentropy,
    get_loss,
    get_metric,
    huber,
    last_time_step_mse,
    mae,
    mse,
    sparse_categorical_crossentropy,
)


def rng(seed=0):
    return np.random.default_rng(seed)


def t(a):
    return torch.from_numpy(np.asarray(a))


def log_softmax_np(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def huber_np(p, y, delta=1.0):
    e = np.abs(p - y)
    return np.where(e <= delta, 0.5 * e**2, delta * e - 0.5 * delta**2).mean()


@pytest.mark.parametrize("shape", [(5, 1), (4, 10), (3, 50, 10)])
def test_regression_losses_match_numpy(shape):
    p = rng(1).normal(size=shape).astype(np.float32) * 2
    y = rng(2).normal(size=shape).astype(np.float32) * 2
    p64, y64 = p.astype(np.float64), y.astype(np.float64)
    assert float(mse(t(p), t(y))) == pytest.approx(((p64 - y64) ** 2).mean(), rel=1e-5)
    assert float(mae(t(p), t(y))) == pytest.approx(np.abs(p64 - y64).mean(), rel=1e-5)
    assert float(huber(t(p), t(y))) == pytest.approx(huber_np(p64, y64), rel=1e-5)


def test_huber_both_branches():
    p = np.array([[0.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    y = np.array([[0.5, -0.5, 3.0, -2.0]], dtype=np.float32)
    # 0.125, 0.125, 3 - 0.5, 2 - 0.5
    assert float(huber(t(p), t(y))) == pytest.approx((0.125 + 0.125 + 2.5 + 1.5) / 4)


def test_last_time_step_mse_uses_only_the_last_step():
    p = rng(3).normal(size=(4, 7, 3)).astype(np.float32)
    y = rng(4).normal(size=(4, 7, 3)).astype(np.float32)
    expected = ((p[:, -1].astype(np.float64) - y[:, -1]) ** 2).mean()
    assert float(last_time_step_mse(t(p), t(y))) == pytest.approx(expected, rel=1e-5)
    # changing anything but the last step does not change it
    p2 = p.copy()
    p2[:, :-1] += 100.0
    assert float(last_time_step_mse(t(p2), t(y))) == float(last_time_step_mse(t(p), t(y)))
    with pytest.raises(ShapeError, match=r"\(4, 3\)"):
        last_time_step_mse(t(p[:, 0]), t(y[:, 0]))


def test_crossentropy_integer_targets():
    logits = rng(5).normal(size=(6, 4)).astype(np.float32) * 3
    labels = np.array([0, 3, 1, 1, 2, 3])
    expected = -log_softmax_np(logits.astype(np.float64))[np.arange(6), labels].mean()
    assert float(crossentropy(t(logits), t(labels))) == pytest.approx(expected, rel=1e-5)
    # sequences: [B, T, C] logits with [B, T] labels, mean over every position
    logits = rng(6).normal(size=(2, 5, 3)).astype(np.float32)
    labels = rng(7).integers(0, 3, size=(2, 5))
    ls = log_softmax_np(logits.astype(np.float64))
    expected = -np.take_along_axis(ls, labels[..., None], -1).mean()
    assert float(crossentropy(t(logits), t(labels))) == pytest.approx(expected, rel=1e-5)


def test_crossentropy_probability_targets():
    logits = rng(8).normal(size=(5, 4)).astype(np.float32)
    probs = rng(9).random(size=(5, 4)).astype(np.float32)
    probs /= probs.sum(-1, keepdims=True)
    expected = -(probs * log_softmax_np(logits.astype(np.float64))).sum(-1).mean()
    assert float(crossentropy(t(logits), t(probs))) == pytest.approx(expected, rel=1e-5)
    # one-hot probabilities give the same value as integer labels
    labels = np.array([1, 0, 3, 2, 2])
    onehot = np.eye(4, dtype=np.float32)[labels]
    assert float(crossentropy(t(logits), t(onehot))) == pytest.approx(
        float(crossentropy(t(logits), t(labels))), rel=1e-6)


def test_binary_crossentropy_on_logits():
    z = rng(10).normal(size=(6, 1)).astype(np.float64) * 3
    y = np.array([[0], [1], [1], [0], [1], [0]], dtype=np.float64)
    sig = 1 / (1 + np.exp(-z))
    expected = -(y * np.log(sig) + (1 - y) * np.log(1 - sig)).mean()
    got = binary_crossentropy(t(z.astype(np.float32)), t(y.astype(np.float32)))
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_accuracy_variants():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]],
                      dtype=np.float32)
    labels = np.array([0, 1, 0, 2])  # 2 of 4 right
    assert float(accuracy(t(logits), t(labels))) == pytest.approx(0.5)
    onehot = np.eye(3, dtype=np.float32)[labels]
    assert float(accuracy(t(logits), t(onehot))) == pytest.approx(0.5)
    # one logit per output: logit > 0 against 0/1 targets
    z = np.array([[1.0], [-1.0], [0.5], [-0.2], [3.0]], dtype=np.float32)
    y = np.array([[1.0], [0.0], [0.0], [0.0], [0.0]], dtype=np.float32)  # 3 of 5 right
    assert float(accuracy(t(z), t(y))) == pytest.approx(0.6)
    # sequences of class logits
    logits = rng(11).normal(size=(3, 4, 5)).astype(np.float32)
    labels = rng(12).integers(0, 5, size=(3, 4))
    assert float(accuracy(t(logits), t(labels))) == pytest.approx(
        (logits.argmax(-1) == labels).mean())


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_mse_mae_property(b, k, seed):
    g = np.random.default_rng(seed)
    p = g.normal(size=(b, k)).astype(np.float32)
    y = g.normal(size=(b, k)).astype(np.float32)
    d = p.astype(np.float64) - y
    assert float(mse(t(p), t(y))) == pytest.approx((d**2).mean(), rel=1e-5, abs=1e-7)
    assert float(mae(t(p), t(y))) == pytest.approx(np.abs(d).mean(), rel=1e-5, abs=1e-7)
    assert float(mse(t(p), t(p))) == 0.0


@pytest.mark.parametrize("fn", [mse, mae, huber, last_time_step_mse, binary_crossentropy])
def test_shape_mismatch_names_both_shapes(fn):
    p = torch.zeros(4, 3, 1)
    y = torch.zeros(4, 3)
    with pytest.raises(ShapeError, match=r"\(4, 3, 1\).*\(4, 3\)"):
        fn(p, y)


def test_no_silent_broadcasting():
    # [B, 1] against [B]: a classic broadcasting bug that gives a [B, B] loss
    with pytest.raises(ShapeError, match=r"\(8, 1\).*\(8,\)"):
        mse(torch.zeros(8, 1), torch.zeros(8))


def test_crossentropy_shape_errors():
    with pytest.raises(ShapeError, match=r"\(4, 3\).*\(4,\).*\(5,\)"):
        crossentropy(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ShapeError, match=r"\(4, 3\).*\(4, 2\)"):
        crossentropy(torch.zeros(4, 3), torch.zeros(4, 2))


def test_lookup_by_name():
    assert get_loss("mse") == ("mse", mse)
    assert get_loss("mean_absolute_error")[1] is mae
    # the sparse name checks its targets are class indices in range, then is crossentropy
    assert get_loss("sparse_categorical_crossentropy")[1] is sparse_categorical_crossentropy
    assert get_metric("last_time_step_mse")[1] is last_time_step_mse
    assert set(METRICS) >= {"mse", "mae", "huber", "last_time_step_mse", "accuracy",
                            "crossentropy"}
    assert set(LOSSES) >= {"mse", "mae", "huber", "crossentropy"}

    def my_loss(p, y):
        return (p - y).abs().max()

    assert get_loss(my_loss) == ("my_loss", my_loss)
    assert get_metric(my_loss) == ("my_loss", my_loss)


def test_unknown_names():
    with pytest.raises(ConfigError, match="unknown loss 'msee'.*mse"):
        get_loss("msee")
    with pytest.raises(ConfigError, match="unknown metric 'acc'.*accuracy"):
        get_metric("acc")


# ------------------------------------------------------------------------------------------
# sparse categorical cross-entropy and accuracy, against NumPy by hand
# ------------------------------------------------------------------------------------------
def test_sparse_categorical_crossentropy_and_accuracy_by_hand():
    import numpy as np

    from seqnets.training.losses import get_loss, get_metric

    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 4, 6))
    target = rng.integers(0, 6, size=(3, 4))
    logits[0, 0] = 0.0
    logits[0, 0, target[0, 0]] = 5.0  # one sure hit
    shifted = logits - logits.max(-1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    expected_loss = -np.mean([log_p[i, j, target[i, j]] for i in range(3) for j in range(4)])
    expected_acc = np.mean(logits.argmax(-1) == target)
    _, loss = get_loss("sparse_categorical_crossentropy")
    _, acc = get_metric("sparse_categorical_accuracy")
    lt, tt = torch.tensor(logits), torch.tensor(target)
    assert float(loss(lt, tt)) == pytest.approx(expected_loss, rel=1e-12)
    assert float(acc(lt, tt)) == pytest.approx(expected_acc)
    assert float(acc(lt, tt.double())) == pytest.approx(expected_acc)  # float class ids
    with pytest.raises(ShapeError, match=r"0\.\.5"):
        loss(lt, torch.full((3, 4), 6))
    with pytest.raises(ShapeError, match="class indices of shape"):
        acc(lt, tt[:, :2])
