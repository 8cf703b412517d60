"""The compiled kernel against independent anchors: central finite differences of its own loss,
the NumPy reference path, libm and NumPy for its vector exp, expm1, log1p, log, tanh and sigmoid,
and itself alone, in stacks and on any number of threads."""

import hashlib
import itertools
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import initlab
from initlab import _kernels, engine
from initlab.activations import get_activation, list_activations
from initlab.losses import LOSSES, loss_and_grad

pytestmark = pytest.mark.skipif(not _kernels.AVAILABLE, reason="numba is not installed")

OUTPUT_LOSS = [(out, loss) for loss, outs in LOSSES.items() for out in outs]
ACTIVATIONS = [*list_activations(), "leaky_relu(slope=0.2)", "elu(alpha=0.5)"]
EPS = np.finfo(np.float64).eps


def _random_params(sizes, K, rng, scale=0.7, dtype=np.float64):
    return engine.Params(
        [
            (rng.standard_normal((K, o, i)) * scale).astype(dtype)
            for i, o in itertools.pairwise(sizes)
        ],
        [(rng.standard_normal((K, o)) * 0.3).astype(dtype) for o in sizes[1:]],
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
    # Layers of 5, 3 and 3 units: the kernel takes units by fours, twos and ones, and each path
    # must give the gradient. 45 samples: one full block of 32 and a last block of 13 padded by
    # repeating the last sample, which must add nothing.
    c = 1 if output == "sigmoid" and loss == "binary_cross_entropy" else 3
    sizes, K, m = (4, 5, 3, c), 2, 45
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
    # 4e-16 on the course's network), parameters to 1e-12 absolute; accuracies are counts of
    # samples, equal unless a sample sits within rounding of the decision boundary.
    X, Y = _circles()
    params = engine.init_params([2, 10, 5, 1], "he_normal", random_state=3, K=4)
    kw = dict(max_iter=2000, solver=solver, snapshot_every=500, accuracy_every=100)
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
    assert b.accuracy.shape == a.accuracy.shape == (21, 4)
    np.testing.assert_array_equal(b.accuracy, a.accuracy)
    assert (b.n_iter, b.n_steps) == (a.n_iter, a.n_steps) == (2000, 2000)


def test_kernel_adam_and_mini_batches_match_numpy():
    # Adam divides by the root of a running square: it amplifies rounding, so a short run.
    X, Y = _circles()
    params = engine.init_params([2, 10, 5, 1], "he_normal", random_state=3, K=3)
    for kw in (
        dict(solver="adam", max_iter=20),
        dict(batch_size=64, shuffle=[1, 2, 3], max_iter=20, accuracy_every=7),
        dict(batch_size=64, shuffle=5, alpha=0.1, max_iter=20),
    ):
        a = engine.train(params, X, Y, backend="numpy", **kw)
        b = engine.train(params, X, Y, backend="numba", **kw)
        np.testing.assert_allclose(b.loss, a.loss, rtol=1e-12)
        assert b.n_steps == a.n_steps
        if "accuracy_every" in kw:
            np.testing.assert_array_equal(b.accuracy, a.accuracy)


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
    assert threads >= 2 or os.cpu_count() == 1  # the stack ran on several threads
    try:
        numba.set_num_threads(1)
        one = engine.train(params, X, Y, max_iter=200, backend="numba")
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(one.loss, stack.loss)
    rerun = engine.train(params, X, Y, max_iter=200, backend="numba")
    assert np.array_equal(rerun.loss, stack.loss)
    # Stretches of iterations (callbacks between them) change nothing either.
    seen = []
    called = engine.train(
        params, X, Y, max_iter=200, backend="numba", callback=lambda it, v: seen.append(it)
    )
    assert seen == list(range(200))
    assert np.array_equal(called.loss, stack.loss)


def test_the_callback_sees_each_iteration_as_the_numpy_path_shows_it():
    X, Y = _circles()
    params = engine.init_params([2, 10, 5, 1], "he_normal", random_state=1, K=3)
    calls = {"numpy": [], "numba": []}
    for backend, out in calls.items():
        engine.train(
            params,
            X,
            Y,
            max_iter=300,
            backend=backend,
            callback=lambda it, v, out=out: out.append((it, v.copy())),
        )
    assert [it for it, _ in calls["numba"]] == [it for it, _ in calls["numpy"]] == list(range(300))
    for (_, a), (_, b) in zip(calls["numpy"], calls["numba"]):
        np.testing.assert_allclose(b, a, rtol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_kernel_keeps_equal_units_equal_bit_for_bit(activation):
    X, Y = _circles()
    params = engine.init_params([2, 10, 5, 1], "constant(value=0.3)", random_state=0, K=2)
    result = engine.train(params, X, Y, activation=activation, max_iter=300, backend="numba")
    for W in result.params.weights[:2]:
        assert np.all(W == W[:, :1, :])  # every unit of a layer equals the first
    assert not np.all(result.params.weights[0] == 0.3)  # and they did train


def test_kernel_detects_divergence_as_numpy_does():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 40)) * 5
    Y = rng.standard_normal((1, 40)) * 100
    params = engine.init_params([3, 8, 1], "normal(std=3)", random_state=1, K=5)
    # A step at which some networks diverge (at different iterations) and others do not.
    kw = dict(output="identity", loss="squared_error", learning_rate=0.002, max_iter=60)
    a = engine.train(params, X, Y, backend="numpy", snapshot_every=4, **kw)
    b = engine.train(params, X, Y, backend="numba", snapshot_every=4, **kw)
    assert a.diverged.any() and not a.diverged.all()
    np.testing.assert_array_equal(b.diverged_at, a.diverged_at)
    for Wb in b.params.weights:  # diverged networks keep their last finite parameters
        assert np.isfinite(Wb).all()
    finite = np.isfinite(a.loss)
    np.testing.assert_array_equal(np.isfinite(b.loss), finite)
    np.testing.assert_allclose(b.loss[finite], a.loss[finite], rtol=1e-9)
    # Snapshots after a network diverged hold its kept parameters, as the NumPy path's do.
    assert len(b.snapshots) == len(a.snapshots) == 15
    for sa, sb in zip(a.snapshots, b.snapshots):
        for Wa, Wb in zip(sa["weights"], sb["weights"]):
            np.testing.assert_allclose(Wb, Wa, rtol=1e-9)


def test_kernel_stops_when_every_network_diverged():
    # Every network overflows in the first iterations: the run stops as the NumPy path's does.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 40)) * 1e100
    Y = rng.standard_normal((1, 40))
    params = engine.init_params([3, 4, 1], "normal(std=1e100)", random_state=1, K=3)
    kw = dict(output="identity", loss="squared_error", max_iter=50, accuracy_every=None)
    a = engine.train(params, X, Y, backend="numpy", **kw)
    b = engine.train(params, X, Y, backend="numba", **kw)
    assert a.diverged.all()
    np.testing.assert_array_equal(b.diverged_at, a.diverged_at)
    assert (b.n_iter, b.n_steps) == (a.n_iter, a.n_steps)


def test_kernel_accuracy_follows_a_diverged_network_as_numpy_does():
    X, Y = _circles()
    params = engine.init_params([2, 10, 5, 1], "he_normal", random_state=2, K=4)
    params.weights[0][1] *= 1e150  # network 1 overflows after a few steps
    kw = dict(max_iter=40, learning_rate=0.5, accuracy_every=5)
    a = engine.train(params, X, Y, backend="numpy", **kw)
    b = engine.train(params, X, Y, backend="numba", **kw)
    assert a.diverged.tolist() == [False, True, False, False]
    np.testing.assert_array_equal(b.diverged_at, a.diverged_at)
    np.testing.assert_array_equal(b.accuracy, a.accuracy)


def test_kernel_runs_float32():
    X, Y = _circles()
    params = engine.init_params([2, 10, 5, 1], "he_normal", random_state=3, K=2, dtype="float32")
    a = engine.train(params, X, Y, max_iter=300, backend="numpy")
    b = engine.train(params, X, Y, max_iter=300, backend="numba")
    assert b.params.weights[0].dtype == np.float32
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-5)


@pytest.mark.parametrize(("output", "loss"), OUTPUT_LOSS)
def test_kernel_float32_gradient_matches_numpy_float32(output, loss):
    # float32 has its own range limits and split constants: the gradient to float32 rounding.
    c = 1 if output == "sigmoid" and loss == "binary_cross_entropy" else 3
    rng = np.random.default_rng(4)
    params = _random_params((4, 7, 5, c), 2, rng, dtype=np.float32)
    X = rng.standard_normal((2, 4, 100)).astype(np.float32)
    Y = _targets(output, c, 100, rng, 2).astype(np.float32)
    value, grad, finite = _kernel_loss_grad(params, X, Y, "tanh", output, loss)
    act = get_activation("tanh")
    zs, acts = engine.forward(params, X, act)
    ref_value, dz, _ = loss_and_grad(zs[-1], Y, loss, output)
    dWs, dbs = engine.backward(params, zs, acts, dz, act)
    assert grad.dtype == np.float32 and finite.all()
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    np.testing.assert_allclose(grad, engine._flatten(engine.Params(dWs, dbs)), rtol=1e-4, atol=1e-6)


def test_kernel_softmax_stack_with_per_network_data():
    rng = np.random.default_rng(5)
    params = _random_params((6, 12, 4), 3, rng, scale=0.4)
    X = rng.standard_normal((3, 6, 50))
    Y = _targets("softmax", 4, 50, rng, 3)
    kw = dict(output="softmax", loss="cross_entropy", max_iter=100, learning_rate=0.1)
    a = engine.train(params, X, Y, backend="numpy", accuracy_every=10, **kw)
    b = engine.train(params, X, Y, backend="numba", accuracy_every=10, **kw)
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-12)
    np.testing.assert_array_equal(b.accuracy, a.accuracy)


def test_kernel_trains_networks_at_its_widest_as_numpy_does():
    # Layers at KERNEL_MAX_WIDTH: each network's partial sums take megabytes (memory the
    # allocator maps and unmaps), on both threads at once.
    rng = np.random.default_rng(9)
    width = engine.KERNEL_MAX_WIDTH
    params = _random_params((6, width, width, 3), 4, rng, scale=0.1)
    X = rng.standard_normal((6, 100))
    Y = _targets("softmax", 3, 100, rng)
    assert engine._path("auto", params.layer_sizes, get_activation("relu")) == "kernel"
    kw = dict(output="softmax", loss="cross_entropy", max_iter=5, learning_rate=0.1)
    a = engine.train(params, X, Y, backend="numpy", **kw)
    b = engine.train(params, X, Y, backend="numba", **kw)
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-12)
    for Wa, Wb in zip(a.params.weights, b.params.weights):
        np.testing.assert_allclose(Wb, Wa, rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_wide_networks_train_through_blas_as_numpy_does(activation):
    # Layers wider than KERNEL_MAX_WIDTH: BLAS products with compiled element-wise passes. 70
    # samples: the passes take rows by blocks of 32 and a tail of 6.
    rng = np.random.default_rng(6)
    width = engine.KERNEL_MAX_WIDTH + 8
    params = _random_params((5, width, 4), 2, rng, scale=0.2)
    X = rng.standard_normal((5, 70))
    Y = _targets("softmax", 4, 70, rng)
    assert engine._path("auto", params.layer_sizes, get_activation(activation)) == "blas"
    kw = dict(activation=activation, output="softmax", loss="cross_entropy", max_iter=30)
    a = engine.train(params, X, Y, backend="numpy", snapshot_every=10, accuracy_every=10, **kw)
    b = engine.train(params, X, Y, backend="numba", snapshot_every=10, accuracy_every=10, **kw)
    np.testing.assert_allclose(b.loss, a.loss, rtol=1e-12)
    for Wa, Wb in zip(a.params.weights, b.params.weights):
        np.testing.assert_allclose(Wb, Wa, rtol=0, atol=1e-12)
    for key in ("grad_weights", "grad_biases"):
        for xa, xb in zip(a.snapshots[1][key], b.snapshots[1][key]):
            np.testing.assert_allclose(xb, xa, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(b.accuracy, a.accuracy)


def test_wide_networks_keep_equal_units_equal_with_exact_products():
    X, Y = _circles()
    width = engine.KERNEL_MAX_WIDTH + 8
    params = engine.init_params([2, width, 1], "constant(value=0.01)", random_state=0, K=2)
    result = engine.train(params, X, Y, max_iter=20, backend="numba")
    assert np.all(result.params.weights[0] == result.params.weights[0][:, :1, :])


def test_backends_choose_the_kernel_for_narrow_networks_and_blas_for_wide_ones():
    relu = get_activation("relu")
    wide = (64, engine.KERNEL_MAX_WIDTH + 1, 10)
    assert engine._path("auto", (2, 10, 5, 1), relu) == "kernel"
    assert engine._path("numba", (2, 10, 5, 1), relu) == "kernel"
    assert engine._path("auto", wide, relu) == "blas"
    assert engine._path("numba", wide, relu) == "blas"
    assert engine._path("numpy", (2, 10, 5, 1), relu) == "numpy"
    assert engine._use_kernel("auto", (2, 10, 5, 1), relu)
    assert not engine._use_kernel("auto", wide, relu)


def test_bad_backend_is_refused_with_the_choices():
    X, Y = _circles()
    params = engine.init_params([2, 3, 1], random_state=0)
    with pytest.raises(ValueError, match=r"'backend' parameter must be one of .*Got 'gpu'"):
        engine.train(params, X, Y, backend="gpu")
    with pytest.raises(ValueError, match=r"'accuracy_every' parameter must be None or an int"):
        engine.train(params, X, Y, accuracy_every=0)
    with pytest.raises(ValueError, match=r"'accuracy_every' .*classification output"):
        engine.train(params, X, Y, output="identity", loss="squared_error", accuracy_every=5)


def _ulps(got, want, eps):
    ok = np.abs(want) > 1e-300
    return (np.abs(got - want)[ok] / np.abs(want[ok])).max() / eps


def _math(which, x):
    B = _kernels.block_size(x.dtype)
    n = -(-x.size // B) * B
    padded = np.resize(x, n)  # repeats x to whole vectors
    out = np.empty_like(padded)
    _kernels._map_math(which, padded, out)
    return out[: x.size]


def test_vector_math_is_accurate_to_a_few_ulp():
    # libm (through NumPy) is the anchor; the polynomials are meant to be within 2-4 ulp.
    neg = np.concatenate([-np.linspace(0, 700, 100003), -np.geomspace(1e-300, 2, 2000)])
    assert _ulps(_math(0, neg), np.exp(neg), EPS) <= 2
    assert _ulps(_math(1, neg), np.expm1(neg), EPS) <= 4
    unit = np.concatenate([np.geomspace(1e-300, 1, 5000), np.linspace(0, 1, 5001)])
    assert _ulps(_math(2, unit), np.log1p(unit), EPS) <= 4
    ge1 = np.concatenate([np.linspace(1, 100, 100001), np.geomspace(1, 1e300, 5000)])
    assert _ulps(_math(3, ge1), np.log(ge1), EPS) <= 4
    assert _math(3, np.array([1.0]))[0] == 0.0
    z = np.concatenate(
        [
            np.linspace(-40, 40, 100001),
            np.geomspace(1e-300, 2, 2000),
            -np.geomspace(1e-300, 2, 2000),
        ]
    )
    assert _ulps(_math(4, z), np.tanh(z), EPS) <= 4
    assert _ulps(_math(5, z), 1 / (1 + np.exp(-z)), EPS) <= 4
    # Overflow and NaN: the limits, never a crash.
    special = np.array([np.inf, -np.inf, np.nan, 1e308, -1e308])
    np.testing.assert_array_equal(_math(4, special), [1.0, -1.0, np.nan, 1.0, -1.0])
    np.testing.assert_array_equal(_math(5, special), [1.0, 0.0, np.nan, 1.0, 0.0])


def test_vector_math_in_float32_is_accurate_to_float32_rounding():
    eps32 = np.finfo(np.float32).eps
    neg = -np.linspace(0, 87, 20001).astype(np.float32)
    assert _ulps(_math(0, neg), np.exp(neg.astype(float)), eps32) <= 4
    z = np.linspace(-20, 20, 20001).astype(np.float32)
    assert _ulps(_math(4, z), np.tanh(z.astype(float)), eps32) <= 4
    assert _ulps(_math(5, z), 1 / (1 + np.exp(-z.astype(float))), eps32) <= 4
    ge1 = np.linspace(1, 1000, 20001).astype(np.float32)
    assert _ulps(_math(3, ge1), np.log(ge1.astype(float)), eps32) <= 4


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_kernel_activations_match_the_engines(activation):
    # Each activation and its derivative against initlab.activations, NaN passed on as NumPy
    # passes it (divergence must show).
    act = get_activation(activation)
    code, p = _kernels.activation_code(act)
    z = np.concatenate([np.linspace(-30, 30, 6397), [np.nan, 0.0, -0.0]])
    z = np.resize(z, 6400)
    a, da = np.empty_like(z), np.empty_like(z)
    _kernels._map_activation(code, p, z, a, da)
    with np.errstate(all="ignore"):
        ref = act.f(z)
        dref = act.df(z, ref).astype(float)
    if act.name == "gelu":
        # The engine's 0.5 z (1 + erf(z / sqrt 2)) cancels for z < -3 (an absolute error of an
        # ulp of 1, all of the value far out); the kernel's z Phi(z) by erfc does not: scipy's
        # ndtr, accurate in both tails, is the oracle.
        # Phi's condition number at z is about z^2, so far out a rounding of z / sqrt 2 moves
        # it by 30^2 eps: the tolerance for z down to -30.
        from scipy.special import ndtr

        ref = z * ndtr(z)
    np.testing.assert_allclose(a, ref, rtol=(1000 if act.name == "gelu" else 4) * EPS, atol=1e-300)
    # Derivatives of order 1 formed as 1 - a^2 or a (1 - a) carry a's rounding as an absolute
    # error of a few eps (where they are near 0, relatively large): an absolute tolerance too.
    np.testing.assert_allclose(da, dref, rtol=8 * EPS, atol=8 * EPS)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(ref))


def test_the_cache_stamp_follows_the_vector_layer():
    # Numba's cache is keyed on _kernels.py alone: an edit to _simd.py must come with a new
    # stamp (an edit of _kernels.py), or a stale compiled kernel would be loaded.
    source = Path(_kernels.__file__).with_name("_simd.py").read_bytes()
    assert hashlib.sha256(source).hexdigest()[:16] == _kernels._SIMD_STAMP


def _read_only_copy(tmp_path):
    """initlab's package copied under tmp_path and made read-only. A file named __pycache__
    stands where Numba would write its in-tree cache, so that the tree is unwritable for it even
    to root (which permissions do not stop)."""
    src = Path(initlab.__file__).parent
    dest = tmp_path / "site" / "initlab"
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
        (folder / "__pycache__").write_text("")
    for path in [*dest.rglob("*"), dest]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return dest.parent


# Circles of 80 points, ReLU and tanh, 300 iterations: the previous kernel (fast-math code)
# gave other bits here when compiled in the process than when loaded from the cache, which
# broke the store's resume-bit-for-bit tests on every fresh clone.
_RUN = """
import hashlib
from sklearn.datasets import make_circles
from initlab import _kernels, engine
X, y = make_circles(n_samples=80, noise=0.05, random_state=1)
bits = hashlib.sha256()
for act in ("relu", "tanh"):
    params = engine.init_params([2, 4, 1], "normal(std=1)", random_state=0)
    r = engine.train(params, X.T, y[None] * 1.0, activation=act, learning_rate=0.5,
                     max_iter=300, backend="numba")
    bits.update(r.loss.tobytes() + engine._flatten(r.params).tobytes())
print("cache:", _kernels.cache_dir(), "bits:", bits.hexdigest())
"""


def test_a_read_only_install_caches_the_kernel_in_numba_cache_dir(tmp_path):
    # A read-only install, a fresh NUMBA_CACHE_DIR: the first process compiles and says so on
    # stderr, with the time it took; the second loads the cached kernel and says nothing.
    site = _read_only_copy(tmp_path)
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(site), "NUMBA_CACHE_DIR": str(cache)}
    first = subprocess.run([sys.executable, "-c", _RUN], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "compiling the training kernel for float64" in first.stderr
    assert "compiled the training kernel for float64 in" in first.stderr
    assert f"cache: {cache}" in first.stdout
    assert any(cache.rglob("*.nbi"))  # Numba's index: the kernel is cached there
    assert not any(p.suffix in (".nbi", ".nbc") for p in Path(site).rglob("*"))  # not in the tree
    second = subprocess.run([sys.executable, "-c", _RUN], env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert "training kernel" not in second.stderr
    # The same bits compiled in the process and loaded from the cache.
    assert second.stdout.split("bits:")[1] == first.stdout.split("bits:")[1]


@pytest.mark.slow
def test_a_read_only_install_without_any_writable_cache_still_trains(tmp_path):
    # Every place Numba could cache in lies under a regular file: no directory can be made
    # there, whatever the permissions. The kernel compiles in the process and says so.
    site = _read_only_copy(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "NUMBA_CACHE_DIR": str(blocker / "cache"),
        "HOME": str(blocker / "home"),
        "XDG_CACHE_HOME": str(blocker / "xdg"),
    }
    run = subprocess.run([sys.executable, "-c", _RUN], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "cache: None" in run.stdout
    assert "no writable cache: set NUMBA_CACHE_DIR" in run.stderr


# --- the sweep path around the kernel ------------------------------------------------------


def test_run_chunk_draws_the_starts_one_config_would_draw_alone():
    from initlab.sweep.run import _starts
    from initlab.sweep.spec import load_spec

    spec = load_spec(
        {
            "grid": {
                "dataset": "xor",
                "hidden": [[5, 4]],
                "init": ["he_normal", "torch_linear", "lsuv"],
                "seed": {"start": 0, "stop": 3},
            }
        }
    )
    configs = [c for c in spec.configs()]
    X, _ = initlab.load_dataset("xor")
    A0 = np.ascontiguousarray(X.T)
    act = get_activation("relu")
    stack = _starts(configs, [c.config for c in configs], [2, 5, 4, 1], A0, act)
    for k, c in enumerate(configs):  # drawn one by one, as MLPClassifier would for the config
        alone = engine.init_params(
            [2, 5, 4, 1],
            c.config["init"],
            c.config["bias_init"],
            activation=act,
            random_state=[np.random.default_rng(c.seed)],
        )
        if c.config["init"].startswith("lsuv"):
            lsuv = engine.resolve_initializer(c.config["init"], act)
            engine.lsuv(alone, A0, act, tol=lsuv.params["tol"], max_iter=lsuv.params["max_iter"])
        for a, b in zip((*stack.weights, *stack.biases), (*alone.weights, *alone.biases)):
            assert np.array_equal(a[k], b[0])


def test_run_chunk_counts_effective_widths_as_symmetry_groups_does():
    from initlab.diagnostics.symmetry import symmetry_groups
    from initlab.sweep.run import _effective_widths

    rng = np.random.default_rng(8)
    params = _random_params((3, 6, 5, 2), 4, rng)
    # network 1: units 0, 2 and 5 of layer 0 equal; network 2: every unit of layer 1 equal
    for u in (2, 5):
        params.weights[0][1, u] = params.weights[0][1, 0]
        params.biases[0][1, u] = params.biases[0][1, 0]
        params.weights[1][1][:, u] = params.weights[1][1][:, 0]
    params.weights[1][2][:] = params.weights[1][2][:1]
    params.biases[1][2][:] = params.biases[1][2][0]
    params.weights[2][2][:] = params.weights[2][2][:, :1]
    widths = _effective_widths(params)
    for k in range(4):
        for l in range(2):
            W, b, W_next = params.weights[l][k], params.biases[l][k], params.weights[l + 1][k]
            assert widths[k, l] == len(symmetry_groups(W, b, W_next))
    assert widths[1, 0] == 4 and widths[2, 1] == 1
