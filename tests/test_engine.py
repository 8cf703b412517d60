"""The stacked engine against independent anchors: central finite differences, solo runs,
hand-written optimizer steps."""

import itertools

import numpy as np
import pytest

from initlab import engine
from initlab.activations import get_activation, list_activations
from initlab.losses import LOSSES, loss_and_grad

# Every (output, loss) pair the engine accepts, with the target shape each needs.
OUTPUT_LOSS = [(out, loss) for loss, outs in LOSSES.items() for out in outs]
ACTIVATIONS = [*list_activations(), "leaky_relu(slope=0.2)", "elu(alpha=0.5)"]


def _random_params(sizes, K, rng, scale=0.7):
    return engine.Params(
        [rng.standard_normal((K, o, i)) * scale for i, o in itertools.pairwise(sizes)],
        [rng.standard_normal((K, o)) * 0.3 for o in sizes[1:]],
    )


def _targets(output, c, m, rng):
    if output == "softmax":
        Y = np.zeros((c, m))
        Y[rng.integers(0, c, m), np.arange(m)] = 1
        return Y
    if output == "sigmoid":
        return (rng.random((c, m)) > 0.5).astype(float)
    return rng.standard_normal((c, m))


def _loss(params, X, Y, act, output, loss):
    zs, _ = engine.forward(params, X, act)
    return loss_and_grad(zs[-1], Y, loss, output)[0]


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize(("output", "loss"), OUTPUT_LOSS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backward_matches_central_differences(activation, output, loss, K):
    c = 1 if output == "sigmoid" and loss == "binary_cross_entropy" else 3
    sizes = (4, 5, 3, c)
    act = get_activation(activation)
    # A kink (ReLU at 0) within a perturbation of a pre-activation would make the difference
    # quotient meaningless: take the first seed whose pre-activations all keep clear of 0.
    for seed in range(100):
        rng = np.random.default_rng(seed)
        params = _random_params(sizes, K, rng)
        X = rng.standard_normal((K, 4, 7)) if K > 1 else rng.standard_normal((4, 7))
        Y = _targets(output, c, 7, rng)
        zs, acts = engine.forward(params, X, act)
        if min(np.abs(z).min() for z in zs[:-1]) > 1e-4:
            break
    _, dz, _ = loss_and_grad(zs[-1], Y, loss, output)
    dWs, dbs = engine.backward(params, zs, acts, dz, act)
    # Central differences: truncation error h^2 |f'''| / 6 ~ 1e-12 and rounding error
    # eps |f| / h ~ 1e-10 for h = 1e-6, so agreement to 1e-7 absolute is a real check.
    h = 1e-6
    for arrays, grads in ((params.weights, dWs), (params.biases, dbs)):
        for P, G in zip(arrays, grads):
            numeric = np.zeros_like(P)
            for idx in np.ndindex(P.shape):
                old = P[idx]
                P[idx] = old + h
                up = _loss(params, X, Y, act, output, loss)[idx[0]]
                P[idx] = old - h
                down = _loss(params, X, Y, act, output, loss)[idx[0]]
                P[idx] = old
                numeric[idx] = (up - down) / (2 * h)
            np.testing.assert_allclose(G, numeric, rtol=1e-6, atol=1e-7)


def test_l2_penalty_gradient_matches_central_differences():
    rng = np.random.default_rng(1)
    params = _random_params((3, 4, 1), 1, rng)
    X, Y = rng.standard_normal((3, 6)), (rng.random((1, 6)) > 0.5).astype(float)
    alpha = 0.3
    res = engine.train(params, X, Y, activation="tanh", max_iter=1, alpha=alpha, snapshot_every=1)
    grad = res.snapshots[0]["grad_weights"][0][0]

    def penalized(p):
        W = sum((W * W).sum() for W in p.weights)
        return _loss(p, X, Y, get_activation("tanh"), "sigmoid", "binary_cross_entropy")[0] + (
            alpha / (2 * 6) * W
        )

    h, numeric = 1e-6, np.zeros_like(grad)
    for idx in np.ndindex(grad.shape):
        old = params.weights[0][(0, *idx)]
        params.weights[0][(0, *idx)] = old + h
        up = penalized(params)
        params.weights[0][(0, *idx)] = old - h
        down = penalized(params)
        params.weights[0][(0, *idx)] = old
        numeric[idx] = (up - down) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("solver", ["gd", "sgd", "adam"])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_a_stack_trains_each_network_as_it_would_alone(solver, batch_size):
    rng = np.random.default_rng(2)
    sizes = (2, 6, 4, 1)
    stack = _random_params(sizes, 4, rng)
    X = rng.standard_normal((2, 50))
    Y = (X[0:1] * X[1:2] > 0).astype(float)
    seeds = [10, 11, 12, 13]
    kw = dict(activation="tanh", solver=solver, learning_rate=0.05, max_iter=20, batch_size=16)
    kw["batch_size"] = batch_size
    together = engine.train(stack, X, Y, shuffle=[np.random.default_rng(s) for s in seeds], **kw)
    for k, s in enumerate(seeds):
        alone = engine.train(stack.select(k), X, Y, shuffle=[np.random.default_rng(s)], **kw)
        # The stack runs the same floating-point operations per network; a batched matrix product
        # may only reassociate sums, so agreement is to a few ulps of the values involved.
        for Wt, Wa in zip(together.params.weights, alone.params.weights):
            np.testing.assert_allclose(Wt[k], Wa[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(together.loss[:, k], alone.loss[:, 0], rtol=1e-12)


def test_same_seed_same_result_bit_for_bit():
    rng = np.random.default_rng(3)
    params = _random_params((2, 5, 1), 2, rng)
    X = rng.standard_normal((2, 40))
    Y = (X[:1] > 0).astype(float)
    runs = [
        engine.train(params, X, Y, solver="adam", batch_size=8, shuffle=5, max_iter=5)
        for _ in range(2)
    ]
    for a, b in zip(runs[0].params.weights, runs[1].params.weights):
        assert np.array_equal(a, b)
    assert np.array_equal(runs[0].loss, runs[1].loss)


def test_a_diverging_network_is_marked_and_the_others_go_on():
    rng = np.random.default_rng(4)
    sizes = (2, 8, 1)
    stack = _random_params(sizes, 3, rng)
    stack.weights[0][1] *= 1e200  # network 1 overflows at once
    X = rng.standard_normal((2, 30))
    Y = (X[:1] > 0).astype(float)
    res = engine.train(stack, X, Y, activation="relu", learning_rate=0.1, max_iter=30)
    assert res.diverged.tolist() == [False, True, False]
    # Iteration 0 is still finite (z ~ 1e200); its update makes the next one overflow.
    assert res.diverged_at[1] == 1
    assert np.isfinite(res.loss[0, 1]) and not np.isfinite(res.loss[1, 1])
    assert np.isnan(res.loss[2:, 1]).all()
    # It is rolled back to the parameters of iteration 0, the last whose loss and gradient were
    # finite (those after its update are finite numbers too, but their loss is not).
    for W, W0 in zip(res.params.weights, stack.select(1).weights):
        assert np.isfinite(W).all()
        assert np.array_equal(W[1], W0[0])
    for k in (0, 2):
        alone = engine.train(
            stack.select(k), X, Y, activation="relu", learning_rate=0.1, max_iter=30
        )
        np.testing.assert_allclose(res.loss[:, k], alone.loss[:, 0], rtol=1e-12)


def test_all_networks_diverging_stops_early():
    params = engine.Params([np.full((1, 1, 1), 1e308)], [np.zeros((1, 1))])
    X = np.array([[1e10, -1e10]])
    Y = np.array([[1.0, 0.0]])
    res = engine.train(
        params, X, Y, activation="linear", output="identity", loss="squared_error", max_iter=50
    )
    assert res.n_iter == 1 and res.n_steps == 0 and res.diverged_at.tolist() == [0]


def test_momentum_and_adam_steps_follow_their_formulas():
    rng = np.random.default_rng(5)
    params = _random_params((3, 1), 1, rng)
    X, Y = rng.standard_normal((3, 10)), rng.standard_normal((1, 10))
    kw = dict(activation="linear", output="identity", loss="squared_error", learning_rate=0.1)
    g = [engine.train(params, X, Y, max_iter=1, snapshot_every=1, **kw).snapshots[0]]
    W0 = params.weights[0]
    # Momentum, two steps: v1 = -lr g1, v2 = mu v1 - lr g2.
    two = engine.train(params, X, Y, max_iter=2, solver="sgd", momentum=0.9, snapshot_every=1, **kw)
    g1, g2 = (s["grad_weights"][0] for s in two.snapshots)
    v1 = -0.1 * g1
    np.testing.assert_allclose(two.params.weights[0], W0 + v1 + (0.9 * v1 - 0.1 * g2), rtol=1e-14)
    # Adam, one step: the bias-corrected moments are g and g^2, so the step is lr g/(|g| + eps).
    one = engine.train(params, X, Y, max_iter=1, solver="adam", **kw)
    g1 = g[0]["grad_weights"][0]
    np.testing.assert_allclose(
        one.params.weights[0], W0 - 0.1 * g1 / (np.abs(g1) + 1e-8), rtol=1e-12
    )


def test_lsuv_brings_every_layer_to_unit_variance():
    rng = np.random.default_rng(6)
    params = _random_params((5, 20, 20, 3), 2, rng, scale=3.0)
    X = rng.standard_normal((5, 200))
    info = engine.lsuv(params, X, "tanh", tol=0.01, max_iter=20)
    zs, _ = engine.forward(params, X, get_activation("tanh"))
    for z in zs:
        var = z.reshape(2, -1).var(axis=1)
        np.testing.assert_array_less(np.abs(var - 1), 0.01)
    assert len(info["iterations"]) == 3


def test_train_rejects_bad_arguments():
    params = _random_params((2, 1), 1, np.random.default_rng(0))
    X, Y = np.zeros((2, 4)), np.zeros((1, 4))
    with pytest.raises(ValueError, match=r"'learning_rate' parameter must be a float > 0\. Got -1"):
        engine.train(params, X, Y, learning_rate=-1)
    with pytest.raises(ValueError, match="'solver' parameter must be one of gd, sgd, adam"):
        engine.train(params, X, Y, solver="lbfgs")
    with pytest.raises(ValueError, match="does not go with the loss"):
        engine.train(params, X, Y, output="softmax", loss="binary_cross_entropy")


def _plain_logits(Ws, bs, X, act):
    """The network's logits by plain NumPy (an independent forward pass)."""
    A = X
    for l, (W, b) in enumerate(zip(Ws, bs)):
        Z = W @ A + b[:, None]
        A = act.f(Z) if l < len(Ws) - 1 else Z
    return A


@pytest.mark.parametrize(("output", "c"), [("sigmoid", 1), ("softmax", 3)])
def test_accuracy_every_measures_the_parameters_before_each_checkpoint(output, c):
    # The expected accuracies, written independently: the snapshot at iteration t holds the
    # parameters before it; predict as MLPClassifier.predict does (p > 0.5 for one output,
    # else the most probable class) and count the matches.
    rng = np.random.default_rng(7)
    params = _random_params((3, 6, c), 2, rng)
    X = rng.standard_normal((3, 60))
    Y = _targets(output, c, 60, rng)
    loss = "binary_cross_entropy" if output == "sigmoid" else "cross_entropy"
    res = engine.train(
        params,
        X,
        Y,
        activation="tanh",
        output=output,
        loss=loss,
        learning_rate=0.5,
        max_iter=30,
        snapshot_every=10,
        accuracy_every=10,
    )
    act = get_activation("tanh")
    labels = (Y[0] > 0.5).astype(int) if c == 1 else Y.argmax(axis=0)
    expected = []
    for state in [*res.snapshots, {"weights": res.params.weights, "biases": res.params.biases}]:
        row = []
        for k in range(2):
            z = _plain_logits(
                [W[k] for W in state["weights"]], [b[k] for b in state["biases"]], X, act
            )
            pred = (z[0] > 0).astype(int) if c == 1 else z.argmax(axis=0)
            row.append((pred == labels).mean())
        expected.append(row)
    assert res.accuracy.shape == (4, 2)  # iterations 0, 10, 20 and the end
    np.testing.assert_array_equal(res.accuracy, expected)
    assert res.accuracy[0].tolist() != res.accuracy[-1].tolist()  # it did learn something
