"""`jaxann.loop.fit`: epochs as the lecture writes them, the stopping rule, sample weights."""

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxann
from jaxann.data import load
from jaxann.gradcheck import relative_error
from jaxann.loop import History, Validation, epoch_order, fit
from jaxann.config import TrainConfig
from jaxann.predict import accuracy


def sgd_by_hand(params, x, y, order, batch, lr, alpha, activation="tanh"):
    """Plain SGD written out with the public API: one step per batch of `order`."""
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]  # the last batch is smaller
        g = jaxann.backprop(params, x[rows], y[rows], activation=activation, loss="cross_entropy", alpha=alpha)
        params = jax.tree.map(lambda p, d: p - lr * d, params, g)
    return params


@pytest.mark.parametrize("batch_size", [4, 1, None], ids=["mini-batch-ragged", "online", "full-batch"])
@pytest.mark.parametrize("grad", ["autodiff", "backprop"])
def test_epochs_equal_sgd_written_out(batch_size, grad, x64, small_problem):
    x, y = small_problem()
    config = TrainConfig(hidden=(4,), activation="tanh", lr=0.3, momentum=0.0, alpha=0.2,
                         batch_size=batch_size, epochs=3, seed=3, grad=grad, dtype="float64")
    result = fit(config, x, y)
    expected = jaxann.init_mlp(jax.random.key(3), [3, 4, 2], dtype=jnp.float64)
    for k in range(3):  # each epoch in its own order
        expected = sgd_by_hand(expected, jnp.asarray(x), jnp.asarray(y), epoch_order(3, k, 10),
                               batch_size or 10, 0.3, 0.2)
    # the same float64 arithmetic in another order: agreement to 1e-12 is rounding
    assert relative_error(result.params, expected) < 1e-12
    assert len(result.history.loss) == 3


def test_epoch_loss_weights_batches_by_their_rows(x64, small_problem):
    x, y = small_problem()
    config = TrainConfig(hidden=(4,), activation="tanh", lr=1e-12, momentum=0.0, alpha=0.5,
                         batch_size=4, epochs=1, seed=3, dtype="float64")
    result = fit(config, x, y)
    # with a learning rate of 1e-12 the parameters barely move, so each batch cost is the
    # starting network's cost on that batch, L2 term with the batch's own m included
    start = jaxann.init_mlp(jax.random.key(3), [3, 4, 2], dtype=jnp.float64)
    order = epoch_order(3, 0, 10)
    costs = [(len(r), float(jaxann.loss(start, x[r], y[r], "tanh", "cross_entropy", 0.5)))
             for r in (order[:4], order[4:8], order[8:])]
    expected = sum(m * c for m, c in costs) / 10
    np.testing.assert_allclose(result.history.loss[0], expected, rtol=1e-9)  # moved by ~1e-12


def test_autodiff_and_backprop_train_identically(x64):
    d = load("digits")
    curves = {}
    for grad in ("autodiff", "backprop"):
        config = TrainConfig(hidden=(20,), epochs=4, grad=grad, dtype="float64", batch_size=64)
        curves[grad] = fit(config, d.x_train, d.y_train, n_out=10).history.loss
    # float64, equal gradients to ~1e-16: four epochs of SGD keep them within 1e-10
    np.testing.assert_allclose(curves["autodiff"], curves["backprop"], rtol=1e-10)


def test_epoch_orders_are_permutations_reproducible_and_new_each_epoch():
    a, b, a_again = (epoch_order(5, k, 50) for k in (0, 1, 0))
    assert sorted(a) == list(range(50)) and sorted(b) == list(range(50))
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, a_again)
    assert not np.array_equal(a, epoch_order(6, 0, 50))  # another seed, another order
    np.testing.assert_array_equal(epoch_order(5, 3, 7, shuffle=False), np.arange(7))


def test_sample_weights_count_rows_as_if_repeated_or_removed(x64, small_problem):
    # full-batch gradient descent: weight 2 is the row twice, weight 0 the row left out;
    # the same sums in another order, so equal to 1e-12 (measured ~1e-15) in float64
    x, y = small_problem(n=12, n_in=4, n_out=3)
    w = np.array([2, 0, 1, 1, 3, 0, 1, 2, 1, 1, 0, 1])
    config = TrainConfig(hidden=(5,), epochs=5, batch_size=None, activation="tanh", alpha=0.01, dtype="float64")
    init = jaxann.init_mlp(jax.random.key(config.seed), [4, 5, 3], dtype=jnp.float64)
    weighted = fit(config, x, y, sample_weight=w, params=init)
    repeated = fit(config, np.repeat(x, w, axis=0), np.repeat(y, w), params=init)
    for a, b in zip(jax.tree.leaves(weighted.params), jax.tree.leaves(repeated.params)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert weighted.history.train_accuracy == repeated.history.train_accuracy  # weighted accuracy
    unweighted = fit(config, x, y, params=init)
    assert not np.allclose(unweighted.params[0]["W"], weighted.params[0]["W"])


def test_lecture_configuration_learns_digits():
    d = load("digits")
    result = fit(TrainConfig(), d.x_train, d.y_train, n_out=10)
    loss = result.history.loss
    assert len(loss) == 10 and all(b < a for a, b in zip(loss, loss[1:]))  # falls every epoch
    # measured 0.974 / 0.962 (seed 1); the margins allow for a different BLAS's rounding
    assert accuracy(result.params, d.x_train, d.y_train, "relu") > 0.95
    assert accuracy(result.params, d.x_test, d.y_test, "relu") > 0.93
    # the fit's seconds are its epochs' (and the reads between them), not the compilation's
    assert sum(result.history.seconds) <= result.fit_seconds
    assert 0.9 < result.history.train_accuracy[-1] <= 1.0


def test_adam_and_plain_sgd_learn_digits():
    d = load("digits")
    for config in (TrainConfig(optimizer="adam", lr=1e-2, epochs=15),
                   TrainConfig(momentum=0.0, nesterov=False, lr=0.5, epochs=15)):
        result = fit(config, d.x_train, d.y_train, n_out=10)
        assert accuracy(result.params, d.x_test, d.y_test, "relu") > 0.9, config


def test_mse_loss_trains_too():
    d = load("digits")
    # the lecture's MSE sums over the 10 outputs and its gradient carries a factor 2, so it
    # wants a smaller step than cross-entropy; measured (seeds 1-3): loss 2.13 -> 0.32, test 0.92-0.94
    result = fit(TrainConfig(loss="mse", lr=0.02, epochs=15), d.x_train, d.y_train, n_out=10)
    assert result.history.loss[-1] < result.history.loss[0] / 4
    assert accuracy(result.params, d.x_test, d.y_test, "relu") > 0.88


def test_early_stopping_on_training_loss_follows_scikit_learn(small_problem):
    x, y = small_problem(n=40)
    # tol = 100: no epoch ever improves by more than tol. Epoch 1 sets the best loss (count 0);
    # epochs 2, 3, 4 raise the count to 1, 2, 3 > n_iter_no_change = 2: stop after 4 epochs
    result = fit(TrainConfig(hidden=(3,), epochs=50, tol=100.0, n_iter_no_change=2), x, y)
    assert len(result.history.loss) == 4
    assert "did not improve" in result.history.stopped


def test_validation_fraction_keeps_the_best_parameters():
    d = load("digits")
    config = TrainConfig(hidden=(10,), epochs=8, validation_fraction=0.2, lr=0.5)
    result = fit(config, d.x_train, d.y_train, n_out=10)
    val = result.history.validation_score
    assert len(val) == 8 and all(0 < v <= 1 for v in val)
    # the same stratified split fit made, to score the restored parameters on it
    from sklearn.model_selection import train_test_split
    _, x_val, _, y_val = train_test_split(d.x_train, d.y_train, test_size=0.2, random_state=1, stratify=d.y_train)
    assert accuracy(result.params, x_val, y_val, "relu") == max(val)


@pytest.mark.slow
def test_lecture_example_on_real_mnist_with_both_gradient_sources(mnist):
    d = mnist
    tests = {}
    for grad in ("autodiff", "backprop"):
        result = fit(TrainConfig(grad=grad), d.x_train, d.y_train, n_out=10)
        # the lecture (scikit-learn): 0.986 train / 0.971 test; jaxann measured 0.989 / 0.974
        assert accuracy(result.params, d.x_train, d.y_train, "relu") >= 0.98
        tests[grad] = accuracy(result.params, d.x_test, d.y_test, "relu")
        assert tests[grad] >= 0.965
    assert abs(tests["autodiff"] - tests["backprop"]) <= 0.002


def test_fit_never_changes_the_progress_it_resumes_from(small_problem):
    x, y = small_problem(n=20)
    config = TrainConfig(hidden=(4,), epochs=2, batch_size=5)
    first = fit(config, x, y)
    before = (first.progress.epoch, list(first.progress.history.loss), first.progress.stopping)
    again = fit(replace(config, epochs=4), x, y, resume=first.progress)
    assert (first.progress.epoch, first.progress.history.loss, first.progress.stopping) == before
    assert again.progress.epoch == 4 and len(again.history.loss) == 4
    assert again.history.loss[:2] == first.history.loss  # the resumed history goes on from the first run's


def test_each_epochs_progress_keeps_its_own_history(tmp_path, small_problem):
    from jaxann.checkpoint import load_checkpoint, save_checkpoint

    x, y = small_problem(n=20)
    config = TrainConfig(hidden=(4,), epochs=3, batch_size=5)
    kept = []
    result = fit(config, x, y, callback=kept.append)
    # the Progress handed over after epoch k holds k losses, later epochs notwithstanding
    assert [len(p.history.loss) for p in kept] == [1, 2, 3] and [p.epoch for p in kept] == [1, 2, 3]
    assert kept[0].history.loss == result.history.loss[:1]
    save_checkpoint(tmp_path / "c.npz", kept[0], config, [3, 4, 2])  # a consistent checkpoint of epoch 1
    resumed = fit(config, x, y, resume=load_checkpoint(tmp_path / "c.npz", config, [3, 4, 2]))
    assert resumed.history.loss == result.history.loss


def test_training_accuracy_only_for_class_labels(small_problem):
    x, y = small_problem(n=20, n_out=3)
    config = TrainConfig(hidden=(4,), epochs=2, batch_size=5)
    labels = fit(config, x, y)
    assert len(labels.history.train_accuracy) == 2 and all(0 <= a <= 1 for a in labels.history.train_accuracy)
    # regression targets: an argmax "accuracy" would mean nothing (1.0 for a single output)
    targets = fit(replace(config, loss="squared_error"), x, np.c_[x[:, 0]])
    assert targets.history.train_accuracy == []


def test_a_given_validation_set_is_scored_by_its_own_score(small_problem):
    x, y = small_problem(n=30)
    calls = []

    def score(params, xv, yv, sample_weight):
        calls.append(len(xv))
        return -float(len(calls))  # falls every epoch: the first epoch stays the best

    result = fit(TrainConfig(hidden=(4,), epochs=3, batch_size=10), x, y,
                 validation=Validation(x[:7], y[:7], None, score))
    assert calls == [7, 7, 7] and result.history.validation_score == [-1.0, -2.0, -3.0]
    assert result.progress.stopping.best_score == -1.0
    # the parameters handed back are the best (first) epoch's, not the last
    assert not np.array_equal(result.params[0]["W"], result.progress.state.params[0]["W"])


def test_history_reads_files_that_call_validation_scores_accuracy():
    old = {"loss": [1.0], "train_accuracy": [0.5], "validation_accuracy": [0.25], "seconds": [0.1],
           "lr_changes": [], "stopped": ""}
    assert History.from_dict(old).validation_score == [0.25]


def test_raw_rows_with_a_divisor_train_exactly_as_their_features():
    # uint8 pixels divided inside the compiled step give the run of the float32 features
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(50, 6), dtype=np.uint8)
    y = rng.integers(0, 3, size=50)
    config = TrainConfig(hidden=(5,), epochs=3, batch_size=16, validation_fraction=0.2)
    features = fit(config, raw.astype(np.float32) / np.float32(255), y)
    pixels = fit(config, raw, y, x_divisor=255.0)
    assert pixels.history.loss == features.history.loss
    assert pixels.history.validation_score == features.history.validation_score
    for a, b in zip(jax.tree.leaves(pixels.params), jax.tree.leaves(features.params)):
        np.testing.assert_array_equal(a, b)
    assert accuracy(pixels.params, raw, y, "relu", x_divisor=255.0) == accuracy(
        features.params, raw.astype(np.float32) / np.float32(255), y, "relu")


def test_float64_trains_in_float64_without_the_global_setting(small_problem):
    # the scope is jaxann's own programs: the same run as under a global x64, bit for bit
    from jaxann.sweep import fit_many

    x, y = small_problem(n=30, n_in=4, n_out=3)
    config = TrainConfig(hidden=(5,), epochs=3, batch_size=7, dtype="float64")
    scoped = fit(config, x, y)
    assert not jax.config.jax_enable_x64
    assert all(np.asarray(leaf).dtype == np.float64 for leaf in jax.tree.leaves(scoped.params))
    with jax.enable_x64(True):
        everywhere = fit(config, x, y)
    assert scoped.history.loss == everywhere.history.loss
    # a sweep (its vmapped program) too, in float64: equal to rounding (measured 3e-16)
    swept = fit_many([config], x, y)
    np.testing.assert_allclose(swept.histories[0].loss, scoped.history.loss, rtol=1e-13)
