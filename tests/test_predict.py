"""`jaxann.predict`: outputs that do not depend on a row's position, accuracy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxann.network import forward, init_mlp
from jaxann.errors import JaxannError
from jaxann.predict import accuracy, outputs


@pytest.mark.parametrize("m", [1, 7, 30, 37, 100, 203, 9000])  # 9000: three chunks, the last padded
def test_outputs_of_shuffled_rows_are_the_shuffled_outputs_exactly(m):
    # float32: the plain forward pass gives rows in the last m % 8 other last bits
    # (measured up to 3e-7 relative); outputs() must not, so the comparison is ==
    rng = np.random.default_rng(m)
    x = rng.normal(size=(m, 64)).astype(np.float32)
    params = init_mlp(jax.random.key(m), [64, 50, 3])
    perm = rng.permutation(m)
    a = outputs(params, x, "relu")
    assert a.shape == (m, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a[perm], outputs(params, x[perm], "relu"))
    # the same a^L as the forward pass, to float32 rounding: in full float32 (a GPU's default
    # matmul runs in TF32, whose 1e-3 rounding differs between the padded and plain shapes);
    # sums of 64 and 50 products of size ~1 in another order round by up to ~1e-6 absolute
    # (measured 3e-7 on an H200, where the two shapes sum in different orders)
    with jax.default_matmul_precision("float32"):
        np.testing.assert_allclose(outputs(params, x, "relu"), forward(params, x, "relu"), rtol=1e-6, atol=1e-6)


def test_weighted_accuracy():
    params = ({"W": jnp.array([[1.0, -1.0]]), "b": jnp.zeros(2)},)
    x, y = np.array([[1.0], [-1.0], [2.0]]), np.array([0, 0, 1])  # predicted 0, 1, 0
    assert accuracy(params, x, y, "identity") == pytest.approx(1 / 3)
    assert accuracy(params, x, y, "identity", sample_weight=[3, 1, 0]) == pytest.approx(3 / 4)


def test_outputs_through_the_links():
    params = init_mlp(jax.random.key(1), [4, 3, 5])
    x = np.random.default_rng(0).normal(size=(9, 4)).astype(np.float32)
    a_L = outputs(params, x, "relu")
    p = outputs(params, x, "relu", link="softmax")
    np.testing.assert_allclose(p, np.exp(a_L) / np.exp(a_L).sum(axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(outputs(params, x, "relu", link="logistic"), 1 / (1 + np.exp(-a_L)), rtol=1e-6)


def test_a_program_compiled_under_one_matmul_precision_is_not_reused_under_another():
    # found on a GPU: a kept TF32 program answered inside jax.default_matmul_precision("float32")
    from jaxann.compiling import counting

    params = init_mlp(jax.random.key(0), [5, 4, 2])
    x = np.ones((3, 5), np.float32)
    outputs(params, x, "relu")
    with counting() as again:
        outputs(params, x, "relu")
    with jax.default_matmul_precision("float32"), counting() as other:
        outputs(params, x, "relu")
    assert again.names == [] and other.names == ["outputs"]


def test_sets_of_more_than_a_chunk_share_one_program_and_accuracy_is_the_definition(fresh_programs):
    # every chunk of an input over CHUNK rows is padded to CHUNK: a training set and its
    # test set go through one compiled program; accuracy is the weighted share right
    from jaxann import compiling
    from jaxann.predict import CHUNK, accuracy, outputs

    rng = np.random.default_rng(0)
    params = init_mlp(3, [6, 5, 4])
    big, other = rng.normal(size=(CHUNK + 7, 6)), rng.normal(size=(2 * CHUNK + 100, 6))
    with compiling.counting() as compiled:
        a = outputs(params, big, "tanh")
        outputs(params, other, "tanh")
    assert compiled.names == ["outputs"]
    np.testing.assert_array_equal(a[-7:], outputs(params, big[-7:], "tanh"))  # rows as they are alone
    labels = rng.integers(0, 4, len(big))
    w = rng.random(len(big))
    right = a.argmax(axis=1) == labels
    assert accuracy(params, big, labels, "tanh") == right.mean()
    assert accuracy(params, big, labels, "tanh", sample_weight=w) == pytest.approx(np.sum(w * right) / np.sum(w),
                                                                                   rel=1e-15)
    with pytest.raises(JaxannError, match="y has 3 rows for"):
        accuracy(params, big, labels[:3], "tanh")
