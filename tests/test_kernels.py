"""The compiled kernel against independent anchors: central finite differences of its own loss,
the NumPy reference path, libm for its vectorized exp, log1p, tanh and sigmoid, and itself alone,
in stacks and on any number of threads."""

import itertools

import numpy as np
import pytest

from initlab import _kernels, engine
from initlab.activations import get_activation, list_activations
from initlab.losses import LOSSES, loss_and_grad

pytestmark = pytest.mark.skipif(not _kernels.AVAILABLE, reason="numba is not installed")

OUTPUT_LOSS = [(out, loss) for loss, outs in LOSSES.items() for out in outs]
ACTIVATIONS = [*list_activations(), "leaky_relu(slope=0.2)", "elu(alpha=0.5)"]
EPS = np.finfo(np.float64).eps


def _random_params(sizes, K, rng, scale=0.7):
    return engine.Params(
        [rng.standard_normal((K, o, i)) * scale for i, o in itertools.pairwise(sizes)],
        [rng.standard_normal((K, o)) * 0.3 for o in sizes[1:]],
    )


def _targets(output, c, m, rng, K=None):
    shape = (c, m) if K is None else (K, c, m)
    if output == "softmax":
        Y = np.zeros(shape)
        idx = rng.integers(0, c, (*shape[:-2], m))
        np.put_along_axis(Y, idx[..., None, :], 1.0, axis=-2)
        return Y
    if output == "sigmoid":
        return (rng.random(shape) > 0.5).astype(float)
    return rng.standard_normal(shape)


def _kernel_loss_grad(params, X, Y, activation, output, loss, alpha=0.0):
    act = get_activation(activation)
    theta = engine._flatten(params)
    grad = np.empty_like(theta)
    value, finite = _kernels.step(
        theta,
        grad,
        engine._stack3(X),
        engine._stack3(Y),
        _kernels.layout(params.layer_sizes),
        _kernels.activation_code(act),
        _kernels.OUTPUT_CODES[output],
        _kernels.LOSS_CODES[loss],
        active=np.ones(params.K, bool),
        alpha=alpha,
    )
    return value, grad, finite


@pytest.mark.parametrize(("output", "loss"), OUTPUT_LOSS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_kernel_gradient_matches_central_differences_and_numpy(activation, output, loss):
    # Layers of 5 and 3 units: the kernel pads to groups of four, which must add nothing.
    c = 1 if output == "sigmoid" and loss == "binary_cross_entropy" else 3
    sizes, K, m = (4, 5, 3, c), 2, 7
    act = get_activation(activation)
    for seed in range(100):  # keep pre-activations clear of ReLU's kink
        rng = np.random.default_rng(seed)
        params = _random_params(sizes, K, rng)
        X = rng.standard_normal((K, 4, m))
        Y = _targets(output, c, m, rng, K)
        zs, acts = engine.forward(params, X, act)
        if min(np.abs(z).min() for z in zs[:-1]) > 1e-4:
            break
    value, grad, finite = _kernel_loss_grad(params, X, Y, activation, output, loss)
    assert finite.all()
    # The NumPy reference path, to rounding.
    ref_value, dz, _ = loss_and_grad(zs[-1], Y, loss, output)
    dWs, dbs = engine.backward(params, zs, acts, dz, act)
    ref = engine._flatten(engine.Params(dWs, dbs))
    np.testing.assert_allclose(value, ref_value, rtol=1e-13)
    np.testing.assert_allclose(grad, ref, rtol=1e-12, atol=1e-15)
    # Central differences of the kernel's own loss (h = 1e-6: error ~1e-10).
    theta = engine._flatten(params)
    h = 1e-6
    numeric = np.zeros_like(theta)
    for k, p in itertools.product(range(K), range(theta.shape[1])):
        values = []
        for sign in (1, -1):
            shifted = theta.copy()
            shifted[k, p] += sign * h
            v, _, _ = _kernel_loss_grad(
                engine._views(params, shifted), X, Y, activation, output, loss
            )
            values.append(v[k])
        numeric[k, p] = (values[0] - values[1]) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7)


def test_kernel_l2_penalty_matches_numpy():
    rng = np.random.default_rng(3)
    params = _random_params((3, 6, 1), 2, rng)
    X, Y = rng.standard_normal((3, 9)), (rng.random((1, 9)) > 0.5).astype(float)
    kw = dict(activation="tanh", max_iter=1, alpha=0.3, snapshot_every=1)
    a = engine.train(params, X, Y, backend="numpy", **kw)
    b = engine.train(params, X, Y, backend="numba", **kw)
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-13)
    for ga, gb in zip(a.snapshots[0]["grad_weights"], b.snapshots[0]["grad_weights"]):
        np.testing.assert_allclose(gb, ga, rtol=1e-12)


def _circles():
    from initlab.datasets import load_dataset

    X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    return np.ascontiguousarray(X.T), y[None].astype(float)


@pytest.mark.parametrize("solver", ["gd", "sgd"])
def test_kernel_training_matches_numpy_to_rounding(solver):
    # The stated tolerance: relative 1e-12 on the losses of a 2000-iteration run (measured
    # 2e-15 on the course's network), parameters to 1e-12 absolute.
    X, Y = _circles()
    params = engine.init_params([2, 10, 5, 1], "he_normal", random_state=3, K=4)
    kw = dict(max_iter=2000, solver=solver, snapshot_every=500)
    a = engine.train(params, X, Y, backend="numpy", **kw)
    b = engine.train(params, X, Y, backend="numba", **kw)
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-12)
    for Wa, Wb in zip(a.params.weights, b.params.weights):
        np.testing.assert_allclose(Wb, Wa, rtol=0, atol=1e-12)
    assert [s["iteration"] for s in b.snapshots] == [0, 500, 1000, 1500]
    for sa, sb in zip(a.snapshots, b.snapshots):  # parameters before the update, and gradients
        for key in ("weights", "biases", "grad_weights", "grad_biases"):
            for xa, xb in zip(sa[key], sb[key]):
                np.testing.assert_allclose(xb, xa, rtol=0, atol=1e-12)


def test_kernel_adam_and_mini_batches_match_numpy():
    # Adam divides by the root of a running square: it amplifies rounding, so a short run.
    X, Y = _circles()
    params = engine.init_params([2, 10, 5, 1], "he_normal", random_state=3, K=3)
    for kw in (
        dict(solver="adam", max_iter=20),
        dict(batch_size=64, shuffle=[1, 2, 3], max_iter=20),
        dict(batch_size=64, shuffle=5, alpha=0.1, max_iter=20),
    ):
        a = engine.train(params, X, Y, backend="numpy", **kw)
        b = engine.train(params, X, Y, backend="numba", **kw)
        np.testing.assert_allclose(b.loss, a.loss, rtol=1e-12)
        assert b.n_steps == a.n_steps


def test_a_network_gives_the_same_bits_alone_in_a_stack_and_on_one_thread():
    import numba

    X, Y = _circles()
    params = engine.init_params([2, 10, 5, 1], "he_normal", random_state=0, K=7)
    stack = engine.train(params, X, Y, max_iter=200, backend="numba")
    alone = engine.train(params.select(4), X, Y, max_iter=200, backend="numba")
    assert np.array_equal(stack.loss[:, 4], alone.loss[:, 0])
    for Ws, Wa in zip(stack.params.weights, alone.params.weights):
        assert np.array_equal(Ws[4], Wa[0])
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = engine.train(params, X, Y, max_iter=200, backend="numba")
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(one.loss, stack.loss)
    rerun = engine.train(params, X, Y, max_iter=200, backend="numba")
    assert np.array_equal(rerun.loss, stack.loss)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_kernel_keeps_equal_units_equal_bit_for_bit(activation):
    X, Y = _circles()
    params = engine.init_params([2, 10, 5, 1], "constant(value=0.3)", random_state=0, K=2)
    result = engine.train(params, X, Y, activation=activation, max_iter=500, backend="numba")
    for W in result.params.weights[:2]:
        assert np.all(W == W[:, :1, :])  # every unit of a layer equals the first
    assert result.params.weights[0][0, 0, 0] != 0.3  # and they did train


def test_kernel_detects_divergence_as_numpy_does():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 40)) * 5
    Y = rng.standard_normal((1, 40)) * 100
    params = engine.init_params([3, 8, 1], "normal(std=3)", random_state=1, K=5)
    kw = dict(output="identity", loss="squared_error", learning_rate=0.5, max_iter=60)
    a = engine.train(params, X, Y, backend="numpy", **kw)
    b = engine.train(params, X, Y, backend="numba", **kw)
    assert a.diverged.any()
    np.testing.assert_array_equal(b.diverged_at, a.diverged_at)
    for Wb in b.params.weights:  # diverged networks keep their last finite parameters
        assert np.isfinite(Wb).all()
    finite = np.isfinite(a.loss)
    np.testing.assert_array_equal(np.isfinite(b.loss), finite)
    np.testing.assert_allclose(b.loss[finite], a.loss[finite], rtol=1e-9)


def test_kernel_runs_float32():
    X, Y = _circles()
    params = engine.init_params([2, 10, 5, 1], "he_normal", random_state=3, K=2, dtype="float32")
    a = engine.train(params, X, Y, max_iter=300, backend="numpy")
    b = engine.train(params, X, Y, max_iter=300, backend="numba")
    assert b.params.weights[0].dtype == np.float32
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-5)


def test_kernel_softmax_stack_with_per_network_data():
    rng = np.random.default_rng(5)
    params = _random_params((6, 12, 4), 3, rng, scale=0.4)
    X = rng.standard_normal((3, 6, 50))
    Y = _targets("softmax", 4, 50, rng, 3)
    kw = dict(output="softmax", loss="cross_entropy", max_iter=100, learning_rate=0.1)
    a = engine.train(params, X, Y, backend="numpy", **kw)
    b = engine.train(params, X, Y, backend="numba", **kw)
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-12)


def test_auto_backend_uses_the_kernel_for_narrow_networks_only():
    relu = get_activation("relu")
    assert engine._use_kernel("auto", (2, 10, 5, 1), relu)
    assert not engine._use_kernel("auto", (64, 256, 256, 10), relu)
    assert engine._use_kernel("numba", (64, 256, 256, 10), relu)
    assert not engine._use_kernel("numpy", (2, 10, 5, 1), relu)


def test_bad_backend_is_refused_with_the_choices():
    X, Y = _circles()
    params = engine.init_params([2, 3, 1], random_state=0)
    with pytest.raises(ValueError, match=r"'backend' parameter must be one of .*Got 'gpu'"):
        engine.train(params, X, Y, backend="gpu")


def test_vectorized_math_is_accurate_to_a_few_ulp():
    z = np.concatenate(
        [
            np.linspace(-40, 40, 100001),
            np.geomspace(1e-300, 2, 2000),
            -np.geomspace(1e-300, 2, 2000),
        ]
    )
    n = z.size
    e, bits, a = np.empty(n), np.empty(n, np.int64), np.empty(n)

    def ulps(got, want):
        ok = np.abs(want) > 1e-300
        return (np.abs(got - want)[ok] / np.abs(want[ok])).max() / EPS

    _kernels._exp_neg_abs(z, 1.0, e, bits, n)
    assert ulps(e, np.exp(-np.abs(z))) <= 2
    _kernels._tanh(z, a, e, bits, n)
    assert ulps(a, np.tanh(z)) <= 4
    _kernels._sigmoid_row(z, a, e, bits, n)
    assert ulps(a, 1 / (1 + np.exp(-z))) <= 4
    u = np.concatenate([np.geomspace(1e-300, 1, 5000), np.linspace(0, 1, 5001)])
    got = np.array([_kernels._log1p_unit(x) for x in u])
    assert ulps(got, np.log1p(u)) <= 4
    assert _kernels._log1p_unit(0.0) == 0.0
    # Overflow and NaN: the limits, never a crash.
    special = np.array([np.inf, -np.inf, np.nan, 1e308, -1e308])
    _kernels._tanh(special, a[:5], e[:5], bits[:5], 5)
    np.testing.assert_array_equal(a[:5], [1.0, -1.0, np.nan, 1.0, -1.0])


def test_kernel_relu_passes_nan_on_as_numpy_does():
    z = np.array([np.nan, -1.0, 2.0, np.inf])
    a = np.empty(4)
    _kernels._activate(1, 0.0, z, a, 4, np.empty(4), np.empty(4, np.int64))
    np.testing.assert_array_equal(a, np.maximum(z, 0))
