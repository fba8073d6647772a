"""fit / evaluate / predict: learning, determinism, Keras defaults, clipping, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import seqnets as sn
from seqnets.errors import ConfigError, DataError, DivergenceError, ShapeError
from seqnets.layers import Dense, Dropout, SimpleRNN
from seqnets.training import Callback, make_optimizer


def linear_data(n=64, features=4, seed=0):
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, features)).astype(np.float32)
    w = g.normal(size=(features, 1)).astype(np.float32)
    y = (x @ w + 0.3).astype(np.float32)
    return x, y


def dense_model(features=4, seed=0, units=1):
    return sn.Sequential([Dense(units)], input_shape=(features,), seed=seed)


def rnn_model(seed=0, dropout=0.0):
    return sn.Sequential([SimpleRNN(4, return_sequences=True, dropout=dropout,
                                    recurrent_dropout=dropout), SimpleRNN(3), Dense(2)],
                         input_size=1, seed=seed)


def seq_data(n=64, steps=8, seed=0):
    g = np.random.default_rng(seed)
    x = g.normal(size=(n, steps, 1)).astype(np.float32)
    y = np.stack([x[:, -1, 0], x[:, :, 0].mean(1)], axis=1).astype(np.float32)
    return x, y


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Record(Callback):
    """Records the trainer, optimizer, thread count and weights at every hook."""

    def __init__(self):
        self.trainer = None
        self.threads = []
        self.epoch_weights = []
        self.batch_losses = []
        self.training_flags = []

    def on_train_begin(self, trainer):
        self.trainer = trainer
        self.threads.append(torch.get_num_threads())

    def on_batch_end(self, trainer, loss):
        self.batch_losses.append(loss)
        self.training_flags.append(trainer.model.training)

    def on_epoch_end(self, trainer, epoch, logs):
        self.epoch_weights.append(weights(trainer.model))


# ------------------------------------------------------------------------------------------
# learning and history
# ------------------------------------------------------------------------------------------
def test_fit_learns_a_linear_problem():
    x, y = linear_data()
    model = dense_model()
    before = sn.evaluate(model, (x, y))["loss"]
    history = sn.fit(model, (x, y), epochs=30, batch_size=8, optimizer="adam", lr=0.05,
                     seed=0, quiet=True)
    after = sn.evaluate(model, (x, y))["loss"]
    assert history["loss"][-1] < history["loss"][0] / 10
    assert after < before / 50
    assert isinstance(history, sn.History)
    assert history.epochs == list(range(30))


def test_history_keys_and_values():
    x, y = linear_data(n=40)
    xv, yv = linear_data(n=24, seed=1)
    model = dense_model()
    history = sn.fit(model, (x, y), valid=(xv, yv), epochs=2, batch_size=16,
                     metrics=["mse", "mae"], seed=0, quiet=True)
    keys = set(history.history)
    assert keys == {"loss", "mse", "mae", "val_loss", "val_mse", "val_mae", "grad_norm",
                    "grad_norm_max", "seconds"}
    for key in keys:
        assert len(history[key]) == 2
        assert all(math.isfinite(v) for v in history[key])
    # with loss "mse", the mse metric is the loss
    assert history["loss"] == pytest.approx(history["mse"], rel=1e-6)
    assert history["val_loss"] == pytest.approx(history["val_mse"], rel=1e-6)
    # validation values are evaluate() on the weights at the end of the epoch
    assert history["val_loss"][-1] == pytest.approx(sn.evaluate(model, (xv, yv))["loss"],
                                                    rel=1e-6)
    assert all(m >= a > 0 for a, m in zip(history["grad_norm"], history["grad_norm_max"],
                                           strict=True))
    assert all(s >= 0 for s in history["seconds"])
    d = history.to_dict()
    assert d["epochs"] == [0, 1] and d["history"]["loss"] == history["loss"]


def test_train_loss_is_the_sample_weighted_mean_of_batch_losses():
    x, y = linear_data(n=37)  # batches of 16, 16, 5
    rec = Record()
    history = sn.fit(dense_model(), (x, y), epochs=1, batch_size=16, callbacks=[rec],
                     shuffle=False, optimizer="sgd", seed=0, quiet=True)
    expected = (16 * rec.batch_losses[0] + 16 * rec.batch_losses[1] + 5 * rec.batch_losses[2]) / 37
    assert history["loss"][0] == pytest.approx(expected, rel=1e-9)
    assert rec.trainer.step == 3
    assert all(rec.training_flags)  # train mode during the epoch


def test_epochs_zero_trains_nothing():
    x, y = linear_data()
    model = dense_model()
    w0 = weights(model)
    history = sn.fit(model, (x, y), epochs=0, quiet=True)
    assert history.history == {} and history.epochs == []
    assert same_weights(w0, weights(model))


def test_integer_and_list_inputs_are_accepted():
    x, y = linear_data(n=16)
    sn.fit(dense_model(), (x.tolist(), y.tolist()), epochs=1, quiet=True)
    sn.fit(dense_model(), (x.astype(np.float64), y.astype(np.float64)), epochs=1, quiet=True)
    sn.fit(dense_model(), (torch.from_numpy(x), torch.from_numpy(y)), epochs=1, quiet=True)


# ------------------------------------------------------------------------------------------
# determinism and RNG hygiene
# ------------------------------------------------------------------------------------------
def _run(seed_model, seed_fit, dropout=0.0):
    x, y = seq_data()
    xv, yv = seq_data(n=16, seed=1)
    model = rnn_model(seed=seed_model, dropout=dropout)
    history = sn.fit(model, (x, y), valid=(xv, yv), epochs=2, batch_size=16, seed=seed_fit,
                     metrics=["mae"], quiet=True)
    return history, weights(model)


def _without_seconds(history):
    return {k: v for k, v in history.history.items() if k != "seconds"}


def test_same_seed_same_history_and_weights():
    h1, w1 = _run(3, 7)
    h2, w2 = _run(3, 7)
    assert _without_seconds(h1) == _without_seconds(h2)
    assert same_weights(w1, w2)
    # and the seeds matter: another shuffling seed gives another run
    h3, w3 = _run(3, 8)
    assert not same_weights(w1, w3)
    assert _without_seconds(h1) != _without_seconds(h3)


def test_dropout_runs_are_deterministic_per_seed():
    h1, w1 = _run(0, 5, dropout=0.3)
    h2, w2 = _run(0, 5, dropout=0.3)
    assert _without_seconds(h1) == _without_seconds(h2)
    assert same_weights(w1, w2)


def test_dropout_uses_the_fit_seed():
    x, y = seq_data(n=16)

    def run(seed):
        model = rnn_model(seed=0, dropout=0.5)
        sn.fit(model, (x, y), epochs=1, batch_size=16, shuffle=False, seed=seed, quiet=True)
        return weights(model)

    # one batch, no shuffling: only the dropout masks differ between the seeds
    assert not same_weights(run(1), run(2))
    assert same_weights(run(1), run(1))


def test_model_seed_gives_identical_initial_weights():
    a, b, c = rnn_model(seed=11), rnn_model(seed=11), rnn_model(seed=12)
    assert same_weights(weights(a), weights(b))
    assert not same_weights(weights(a), weights(c))


def test_global_rng_untouched_by_seeded_fit_and_model():
    x, y = seq_data(n=16)
    state = torch.get_rng_state()
    model = rnn_model(seed=4, dropout=0.2)
    assert torch.equal(state, torch.get_rng_state())
    sn.fit(model, (x, y), epochs=2, batch_size=8, seed=9, quiet=True)
    assert torch.equal(state, torch.get_rng_state())


def test_unseeded_fit_still_runs():
    x, y = linear_data(n=16)
    history = sn.fit(dense_model(), (x, y), epochs=2, quiet=True)
    assert len(history["loss"]) == 2


# ------------------------------------------------------------------------------------------
# evaluate and predict
# ------------------------------------------------------------------------------------------
def _full_batch(model, x, y):
    with torch.no_grad():
        model.eval()
        out = model(torch.from_numpy(x)).double()
    yt = torch.from_numpy(y).double()
    return {"loss": float(((out - yt) ** 2).mean()), "mae": float((out - yt).abs().mean())}


def test_evaluate_exact_weighted_means_with_uneven_batches():
    x, y = seq_data(n=50)
    model = rnn_model(seed=2)
    full = _full_batch(model, x, y)
    scores = sn.evaluate(model, (x, y), metrics=["mae"], batch_size=7)  # 7 * 7 + 1
    assert set(scores) == {"loss", "mae"}
    assert scores["loss"] == pytest.approx(full["loss"], rel=1e-5)
    assert scores["mae"] == pytest.approx(full["mae"], rel=1e-5)
    # a naive mean of batch means would be off: the last batch holds a single sample
    model.eval()
    with torch.no_grad():
        out = model(torch.from_numpy(x))
    batch_means = [float(((out[s:s + 7] - torch.from_numpy(y[s:s + 7])) ** 2).mean())
                   for s in range(0, 50, 7)]
    assert abs(np.mean(batch_means) - full["loss"]) > 1e-4 * full["loss"]


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 45), seed=st.integers(0, 1000))
def test_evaluate_weighting_property(n, batch_size, seed):
    x, y = linear_data(n=n, seed=seed)
    model = dense_model(seed=seed)
    full = _full_batch(model, x, y)
    scores = sn.evaluate(model, (x, y), metrics=["mae"], batch_size=batch_size)
    assert scores["loss"] == pytest.approx(full["loss"], rel=1e-5, abs=1e-7)
    assert scores["mae"] == pytest.approx(full["mae"], rel=1e-5, abs=1e-7)


def test_evaluate_restores_the_mode():
    x, y = linear_data(n=8)
    model = dense_model()
    model.train()
    sn.evaluate(model, (x, y))
    assert model.training
    model.eval()
    sn.evaluate(model, (x, y))
    assert not model.training


def test_predict_types_modes_and_batches():
    x, _ = seq_data(n=23)
    model = sn.Sequential([SimpleRNN(4), Dropout(0.5), Dense(2)], input_size=1, seed=0)
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(x))
    model.train()
    out_np = sn.predict(model, x, batch_size=5)
    assert isinstance(out_np, np.ndarray) and out_np.dtype == np.float32
    assert out_np.shape == (23, 2)
    assert model.training  # mode restored
    np.testing.assert_allclose(out_np, expected.numpy(), rtol=1e-6, atol=1e-7)
    out_t = sn.predict(model, torch.from_numpy(x), batch_size=1000)
    assert isinstance(out_t, torch.Tensor) and not out_t.requires_grad
    assert torch.allclose(out_t, expected, rtol=1e-6, atol=1e-7)
    # eval mode inside: dropout is off, so repeated calls agree exactly
    assert torch.equal(sn.predict(model, torch.from_numpy(x)), out_t)
    model.eval()
    sn.predict(model, x)
    assert not model.training
    # float64 input is accepted, the output stays float32
    assert sn.predict(model, x.astype(np.float64)).dtype == np.float32


def test_predict_rejects_nan():
    x, _ = seq_data(n=4)
    x[2, 3, 0] = np.nan
    with pytest.raises(DataError, match=r"\[2, 3, 0\]"):
        sn.predict(rnn_model(), x)


# ------------------------------------------------------------------------------------------
# optimizers
# ------------------------------------------------------------------------------------------
def _optimizer_used(**kwargs):
    x, y = linear_data(n=8)
    rec = Record()
    sn.fit(dense_model(), (x, y), epochs=1, callbacks=[rec], quiet=True, **kwargs)
    return rec.trainer.optimizer


def test_adam_by_name_has_keras_defaults():
    opt = _optimizer_used()  # adam is the default
    assert isinstance(opt, torch.optim.Adam)
    group = opt.param_groups[0]
    assert group["lr"] == 1e-3 and group["eps"] == 1e-7 and group["betas"] == (0.9, 0.999)
    assert group["weight_decay"] == 0 and not group["amsgrad"]


def test_other_optimizers_by_name():
    sgd = _optimizer_used(optimizer="sgd")
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.param_groups[0]["lr"] == 0.01 and sgd.param_groups[0]["momentum"] == 0
    rms = _optimizer_used(optimizer="RMSprop")
    assert isinstance(rms, torch.optim.RMSprop)
    assert rms.param_groups[0]["alpha"] == 0.9 and rms.param_groups[0]["eps"] == 1e-7
    assert rms.param_groups[0]["lr"] == 1e-3
    nadam = _optimizer_used(optimizer="nadam")
    assert isinstance(nadam, torch.optim.NAdam) and nadam.param_groups[0]["eps"] == 1e-7


def test_lr_override():
    assert _optimizer_used(optimizer="adam", lr=0.01).param_groups[0]["lr"] == 0.01
    assert _optimizer_used(optimizer="sgd", lr=0.5).param_groups[0]["lr"] == 0.5


def test_sgd_step_is_exactly_lr_times_gradient():
    x, y = linear_data(n=16)
    model = dense_model()
    w0 = weights(model)
    sn.fit(model, (x, y), epochs=1, batch_size=16, optimizer="sgd", lr=0.1, quiet=True)
    ref = dense_model()
    loss = ((ref(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
    loss.backward()
    for name, p in ref.named_parameters():
        assert torch.allclose(model.state_dict()[name], w0[name] - 0.1 * p.grad, atol=1e-6)


def test_optimizer_instance_and_factory():
    x, y = linear_data(n=16)
    model = dense_model()
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    rec = Record()
    sn.fit(model, (x, y), epochs=1, batch_size=8, optimizer=opt, callbacks=[rec], quiet=True)
    assert rec.trainer.optimizer is opt
    assert all(opt.state[p]["step"] == 2 for p in model.parameters())  # it was stepped
    assert opt.param_groups[0]["lr"] == 0.02
    # an instance with lr=...: the lr is set on the instance
    sn.fit(model, (x, y), epochs=1, optimizer=opt, lr=0.005, quiet=True)
    assert opt.param_groups[0]["lr"] == 0.005
    # a factory params -> optimizer
    made = []

    def factory(params):
        made.append(torch.optim.SGD(params, lr=0.3))
        return made[-1]

    rec = Record()
    sn.fit(dense_model(), (x, y), epochs=1, optimizer=factory, callbacks=[rec], quiet=True)
    assert rec.trainer.optimizer is made[0]
    with pytest.raises(ConfigError, match="factory"):
        sn.fit(dense_model(), (x, y), optimizer=lambda params: "adam", quiet=True)


def test_make_optimizer_errors():
    params = list(dense_model().parameters())
    with pytest.raises(ConfigError, match="unknown optimizer 'adamw'.*adam"):
        make_optimizer("adamw", params)
    with pytest.raises(ConfigError, match="optimizer must be"):
        make_optimizer(3, params)


# ------------------------------------------------------------------------------------------
# gradient clipping: one SGD step with lr = 1, so the update is minus the clipped gradient
# ------------------------------------------------------------------------------------------
def _big_problem():
    g = np.random.default_rng(0)
    x = g.normal(size=(16, 4)).astype(np.float32) * 10
    y = (g.normal(size=(16, 1)) * 1000).astype(np.float32)  # a huge loss, huge gradients
    return x, y


def _grads_and_update(**clip):
    x, y = _big_problem()
    ref = dense_model(seed=1)
    loss = ((ref(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in ref.named_parameters()}
    model = dense_model(seed=1)
    w0 = weights(model)
    history = sn.fit(model, (x, y), epochs=1, batch_size=16, optimizer="sgd", lr=1.0,
                     quiet=True, **clip)
    update = {n: w0[n] - model.state_dict()[n] for n in grads}
    return grads, update, history


def test_unclipped_gradients_are_huge():
    grads, update, history = _grads_and_update()
    for n in grads:
        assert grads[n].norm() > 100
        assert torch.allclose(update[n], grads[n], rtol=1e-4)
    total = math.sqrt(sum(float(g.norm()) ** 2 for g in grads.values()))
    assert history["grad_norm"][0] == pytest.approx(total, rel=1e-4)


def test_clipnorm_clips_each_parameter():
    grads, update, history = _grads_and_update(clipnorm=0.5)
    for n, g in grads.items():
        assert float(update[n].norm()) == pytest.approx(0.5, rel=1e-4)
        # the direction is kept
        assert torch.allclose(update[n], g * 0.5 / g.norm(), atol=1e-5)
    # the logged norm is the one before clipping
    total = math.sqrt(sum(float(g.norm()) ** 2 for g in grads.values()))
    assert history["grad_norm"][0] == pytest.approx(total, rel=1e-4)


def test_clipnorm_leaves_small_gradients_alone():
    grads, update, _ = _grads_and_update(clipnorm=1e9)
    for n, g in grads.items():
        assert torch.allclose(update[n], g, rtol=1e-4)


def test_global_clipnorm_clips_all_together():
    grads, update, _ = _grads_and_update(global_clipnorm=2.0)
    total = math.sqrt(sum(float(g.norm()) ** 2 for g in grads.values()))
    norm = math.sqrt(sum(float(u.norm()) ** 2 for u in update.values()))
    assert norm == pytest.approx(2.0, rel=1e-4)
    for n, g in grads.items():  # the same factor for every parameter
        assert torch.allclose(update[n], g * 2.0 / total, atol=1e-5)


def test_clipvalue_clips_elements():
    grads, update, _ = _grads_and_update(clipvalue=0.25)
    for n, g in grads.items():
        assert torch.allclose(update[n], g.clamp(-0.25, 0.25), atol=1e-6)
        assert float(update[n].abs().max()) <= 0.25 + 1e-6


def test_clipvalue_then_clipnorm_uses_the_clipped_norm():
    grads, update, _ = _grads_and_update(clipvalue=0.25, clipnorm=0.3)
    for n, g in grads.items():
        c = g.clamp(-0.25, 0.25)
        expected = c * min(1.0, 0.3 / float(c.norm()))
        assert torch.allclose(update[n], expected, atol=1e-6)


def test_clipnorm_then_global_clipnorm():
    grads, update, _ = _grads_and_update(clipnorm=3.0, global_clipnorm=1.0)
    clipped = {n: g * min(1.0, 3.0 / float(g.norm())) for n, g in grads.items()}
    total = math.sqrt(sum(float(c.norm()) ** 2 for c in clipped.values()))
    for n, c in clipped.items():
        assert torch.allclose(update[n], c * min(1.0, 1.0 / total), atol=1e-6)


@pytest.mark.parametrize("arg", ["clipnorm", "global_clipnorm", "clipvalue"])
@pytest.mark.parametrize("value", [0, -1.0])
def test_clipping_arguments_must_be_positive(arg, value):
    x, y = linear_data(n=8)
    with pytest.raises(ConfigError, match=arg):
        sn.fit(dense_model(), (x, y), quiet=True, **{arg: value})


# ------------------------------------------------------------------------------------------
# validation of arguments and data
# ------------------------------------------------------------------------------------------
def test_nan_in_x_names_the_index():
    x, y = seq_data(n=16)
    x[5, 3, 0] = np.nan
    with pytest.raises(DataError, match=r"train X .*1 NaN.*index \[5, 3, 0\]"):
        sn.fit(rnn_model(), (x, y), quiet=True)
    x, y = seq_data(n=16)
    y[7, 1] = np.inf
    with pytest.raises(DataError, match=r"train Y .*index \[7, 1\]"):
        sn.fit(rnn_model(), (x, y), quiet=True)
    xv, yv = seq_data(n=8)
    xv[1, 0, 0] = np.nan
    with pytest.raises(DataError, match=r"valid X .*\[1, 0, 0\]"):
        sn.fit(rnn_model(), seq_data(n=8), valid=(xv, yv), quiet=True)


def test_length_mismatch():
    x, y = seq_data(n=16)
    with pytest.raises(ShapeError, match="16 samples.*15"):
        sn.fit(rnn_model(), (x, y[:15]), quiet=True)
    with pytest.raises(ShapeError, match="valid"):
        sn.fit(rnn_model(), (x, y), valid=(x[:4], y[:3]), quiet=True)


def test_output_target_shape_mismatch_is_a_shape_error():
    x, y = seq_data(n=16)
    with pytest.raises(ShapeError, match=r"\(16, 2\).*\(16, 1\)"):
        sn.fit(rnn_model(), (x, y[:, :1]), batch_size=16, quiet=True)


def test_bad_data():
    x, y = seq_data(n=16)
    with pytest.raises(DataError, match="pair"):
        sn.fit(rnn_model(), x, quiet=True)
    with pytest.raises(DataError, match="empty"):
        sn.fit(rnn_model(), (x[:0], y[:0]), quiet=True)
    with pytest.raises(DataError, match="numeric"):
        sn.fit(rnn_model(), (np.array([["a"]] * 16), y), quiet=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": -1}, "epochs"),
        ({"epochs": 1.5}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"loss": "msle"}, "unknown loss 'msle'"),
        ({"optimizer": "adagrad"}, "unknown optimizer 'adagrad'"),
        ({"metrics": ["rmse"]}, "unknown metric 'rmse'"),
    ],
)
def test_bad_arguments(kwargs, match):
    x, y = linear_data(n=8)
    model = dense_model()
    w0 = weights(model)
    with pytest.raises(ConfigError, match=match):
        sn.fit(model, (x, y), quiet=True, **kwargs)
    assert same_weights(w0, weights(model))  # nothing trained


def test_unbuilt_model_is_a_config_error():
    x, y = seq_data(n=8)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        sn.fit(sn.Sequential([SimpleRNN(3), Dense(2)]), (x, y), quiet=True)


def test_diverging_run_raises_with_advice():
    x, y = _big_problem()
    state = torch.get_rng_state()
    threads = torch.get_num_threads()
    model = dense_model()
    with pytest.raises(DivergenceError, match=r"(?s)loss became .* at epoch \d+, batch \d+ "
                       r"\(step \d+\); the weights are those of the last good step: lower "
                       r"the learning rate or clip"):
        sn.fit(model, (x, y), epochs=5, batch_size=4, optimizer="sgd", lr=1e6,
               seed=0, quiet=True)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert issubclass(DivergenceError, FloatingPointError)
    assert torch.equal(state, torch.get_rng_state())
    assert torch.get_num_threads() == threads


def test_a_nan_gradient_stops_before_the_update():
    x, y = linear_data(n=16)
    model = dense_model()
    before = weights(model)

    def nan_gradient(out, target):  # a finite loss whose gradient is not finite
        return torch.mean((out - target) ** 2) + torch.sqrt(out - out.detach()).sum()

    with pytest.raises(DivergenceError, match="gradient norm became (nan|inf) at epoch 1, "
                                              "batch 1 "):
        sn.fit(model, (x, y), loss=nan_gradient, batch_size=8, quiet=True)
    assert same_weights(before, weights(model))


def test_a_loss_growing_a_millionfold_warns_once():
    x, y = linear_data(n=64)
    calls = []

    def growing(out, target):  # finite, but ten times larger at every step
        calls.append(1)
        return torch.mean((out - target) ** 2) * 0 + 10.0 ** len(calls)

    with pytest.warns(RuntimeWarning, match=r"the loss grew from 10 to 1e\+08 by epoch 1, "
                                            "batch 8: training is diverging") as caught:
        sn.fit(dense_model(), (x, y), loss=growing, batch_size=4, quiet=True)
    assert len([w for w in caught if "diverging" in str(w.message)]) == 1


# ------------------------------------------------------------------------------------------
# threads and progress
# ------------------------------------------------------------------------------------------
def test_threads_are_set_during_fit_and_restored():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x, y = linear_data(n=8)
        rec = Record()
        sn.fit(dense_model(), (x, y), epochs=1, threads=1, callbacks=[rec], quiet=True)
        assert rec.threads == [1]
        assert torch.get_num_threads() == 2
        # default for a small model: one thread, restored afterwards
        rec = Record()
        sn.fit(dense_model(), (x, y), epochs=1, callbacks=[rec], quiet=True)
        assert rec.threads == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_progress_lines_and_quiet(capsys):
    x, y = linear_data(n=8)
    sn.fit(dense_model(), (x, y), epochs=2, quiet=False)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "loss:" in err
    sn.fit(dense_model(), (x, y), epochs=2, quiet=True)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_stop_training_from_a_callback():
    class StopAfterTwo(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 1:
                trainer.stop_training = True

    x, y = linear_data(n=8)
    history = sn.fit(dense_model(), (x, y), epochs=10, callbacks=[StopAfterTwo()], quiet=True)
    assert history.epochs == [0, 1]


def test_model_is_left_in_eval_mode():
    x, y = linear_data(n=8)
    model = dense_model()
    model.train()
    sn.fit(model, (x, y), epochs=1, quiet=True)
    assert not model.training


@pytest.mark.parametrize("name, serial", [("deep_rnn", True), ("gru", True), ("ln_rnn", True),
                                          ("lstm", False), ("conv_gru", False),
                                          ("wavenet", False)])
def test_default_threads_rule(name, serial):
    from seqnets.layers.ops.dispatch import default_threads, thread_count

    with thread_count(2):
        assert default_threads(sn.zoo.build(name, seed=0)) == (1 if serial else 2)
    with thread_count(1):  # a worker capped to one core never asks for more
        assert default_threads(sn.zoo.build(name, seed=0)) == 1


def test_adam_is_fused_when_it_can_be_and_updates_as_the_plain_one():
    assert _optimizer_used().param_groups[0]["fused"] is True
    torch.manual_seed(0)
    w = torch.randn(5, 3, dtype=torch.float64)
    fused, plain = (torch.nn.Parameter(w.clone()) for _ in range(2))
    opt_f = make_optimizer("adam", [fused], lr=0.1)
    opt_p = torch.optim.Adam([plain], lr=0.1, eps=1e-7)
    for step in range(5):
        g = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(step))
        fused.grad, plain.grad = g.clone(), g.clone()
        opt_f.step()
        opt_p.step()
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=1e-12)
    mixed = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2).double())]
    assert not make_optimizer("adam", mixed).param_groups[0]["fused"]
    from_generator = make_optimizer("adam", (p for p in [torch.nn.Parameter(torch.zeros(2))]))
    assert len(from_generator.param_groups[0]["params"]) == 1  # not spent by the fuse check


@pytest.mark.parametrize("n, batch_size, gather_bytes", [
    (103, 8, 1), (103, 8, 10_000), (64, 32, 1 << 30), (5, 32, 1)])
def test_chunked_gather_gives_the_same_batches_in_order(monkeypatch, n, batch_size,
                                                        gather_bytes):
    from seqnets.training import batches as training

    monkeypatch.setattr(training, "GATHER_BYTES", gather_bytes)
    series = torch.arange(n + 6, dtype=torch.float32)
    x = series.unfold(0, 7, 1)[:n].unsqueeze(-1)     # window views, not copies
    y = torch.arange(n, dtype=torch.float32).unsqueeze(-1)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    pairs = list(training.batch_pairs(x, y, batch_size, order))
    expected = [order[s:s + batch_size] for s in range(0, n, batch_size)]
    assert len(pairs) == len(expected)
    for (xb, yb), idx in zip(pairs, expected, strict=True):
        torch.testing.assert_close(xb, x[idx], rtol=0, atol=0)
        torch.testing.assert_close(yb, y[idx], rtol=0, atol=0)
    unshuffled = list(training.batch_pairs(x, y, batch_size, None))
    torch.testing.assert_close(torch.cat([b for b, _ in unshuffled]), x, rtol=0, atol=0)
