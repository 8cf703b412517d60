"""Time the course's circles fit: initlab against a plain NumPy per-model loop, in one run.

    python benchmarks/bench_fit.py [--repeats 3] [--seeds 16]

Two comparisons, each the best of ``--repeats`` runs:

1. one model: ``MLPClassifier(...).fit`` (validation, start, 15000 full-batch iterations, the
   loss at every iteration) against two plain NumPy loops written below: the course's own
   ``model()`` as published, and a tight loop over the layers;
2. ``--seeds`` models of the same architecture from different seeds: one stacked
   ``engine.train`` call against the plain loop run once per seed.

A ratio above 1 means initlab is faster. Both compute the same numbers (checked at the end).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import initlab
from initlab import MLPClassifier, engine, load_dataset


def course_fit(X, Y, W, b, learning_rate=0.01, num_iterations=15000):
    """The course's own model(): forward, compute_loss, backward, update, unrolled for 3 layers."""
    p = {}
    for l in range(3):
        p["W" + str(l + 1)], p["b" + str(l + 1)] = W[l].copy(), b[l].copy()
    m = X.shape[1]
    costs = []
    for _ in range(num_iterations):
        z1 = np.dot(p["W1"], X) + p["b1"]
        a1 = np.maximum(0, z1)
        z2 = np.dot(p["W2"], a1) + p["b2"]
        a2 = np.maximum(0, z2)
        z3 = np.dot(p["W3"], a2) + p["b3"]
        a3 = 1 / (1 + np.exp(-z3))
        with np.errstate(divide="ignore", invalid="ignore"):
            logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
        costs.append(1.0 / m * np.nansum(logprobs))
        dz3 = 1.0 / m * (a3 - Y)
        g = {"dW3": np.dot(dz3, a2.T), "db3": np.sum(dz3, axis=1, keepdims=True)}
        dz2 = np.multiply(np.dot(p["W3"].T, dz3), np.int64(a2 > 0))
        g["dW2"], g["db2"] = np.dot(dz2, a1.T), np.sum(dz2, axis=1, keepdims=True)
        dz1 = np.multiply(np.dot(p["W2"].T, dz2), np.int64(a1 > 0))
        g["dW1"], g["db1"] = np.dot(dz1, X.T), np.sum(dz1, axis=1, keepdims=True)
        for k in range(1, 4):
            p["W" + str(k)] = p["W" + str(k)] - learning_rate * g["dW" + str(k)]
            p["b" + str(k)] = p["b" + str(k)] - learning_rate * g["db" + str(k)]
    return [p["W1"], p["W2"], p["W3"]], costs


def plain_numpy_fit(X, Y, W, b, learning_rate=0.01, num_iterations=15000):
    """A tight per-model loop: feature-major, one layer at a time, a cost per step."""
    W = [w.copy() for w in W]
    b = [v.copy() for v in b]
    m = X.shape[1]
    costs = np.empty(num_iterations)
    for i in range(num_iterations):
        a = [X]
        for l in range(len(W)):
            z = np.dot(W[l], a[-1]) + b[l]
            a.append(np.maximum(0, z) if l < len(W) - 1 else 1 / (1 + np.exp(-z)))
        p = a[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            costs[i] = 1.0 / m * np.nansum(-np.log(p) * Y - np.log(1 - p) * (1 - Y))
        dz = 1.0 / m * (p - Y)
        for l in range(len(W) - 1, -1, -1):
            dW = np.dot(dz, a[l].T)
            db = np.sum(dz, axis=1, keepdims=True)
            if l > 0:
                dz = np.dot(W[l].T, dz) * (a[l] > 0)
            W[l] = W[l] - learning_rate * dW
            b[l] = b[l] - learning_rate * db
    return W, b, costs


def best_of(repeats, fn):
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--iterations", type=int, default=15000)
    args = ap.parse_args()
    X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    sizes = (2, 10, 5, 1)
    n = args.iterations

    def initlab_one():
        return MLPClassifier(init="he_normal", max_iter=n, random_state=3).fit(X, y)

    start = engine.init_params(sizes, "he_normal", random_state=3)

    def plain_one():
        return plain_numpy_fit(
            X.T,
            y[None, :].astype(float),
            [W[0] for W in start.weights],
            [b[0][:, None] for b in start.biases],
            num_iterations=n,
        )

    def course_one():
        W0 = [W[0] for W in start.weights]
        return course_fit(
            X.T,
            y[None, :].astype(float),
            W0,
            [b[0][:, None] for b in start.biases],
            num_iterations=n,
        )

    t_init, clf = best_of(args.repeats, initlab_one)
    t_course, (W_course, _) = best_of(args.repeats, course_one)
    t_plain, (W_plain, _, _) = best_of(args.repeats, plain_one)
    for other in (W_course, W_plain):
        assert all(np.array_equal(a, b) for a, b in zip(clf.coefs_, other)), "results differ"

    seeds = list(range(args.seeds))
    stack = engine.init_params(sizes, "he_normal", random_state=seeds)
    Y = y[None, :].astype(float)

    def initlab_stack():
        return engine.train(stack, X.T, Y, activation="relu", learning_rate=0.01, max_iter=n)

    def plain_loop():
        return [
            plain_numpy_fit(
                X.T,
                Y,
                [W[k] for W in stack.weights],
                [b[k][:, None] for b in stack.biases],
                num_iterations=n,
            )
            for k in seeds
        ]

    t_stack, res = best_of(args.repeats, initlab_stack)
    t_loop, loop = best_of(args.repeats, plain_loop)
    worst = max(np.abs(res.params.weights[0][k] - loop[k][0][0]).max() for k in seeds)

    print(
        f"initlab {initlab.__version__}, NumPy {np.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()}, {platform.processor() or '?'}"
    )
    print(
        f"circles 300 samples, layers {sizes}, ReLU, {n} full-batch iterations, "
        f"best of {args.repeats}"
    )
    print(f"{'case':46s} {'initlab s':>10s} {'plain s':>10s} {'ratio':>7s}")
    rows = [
        ("one model (MLPClassifier.fit vs course code)", t_init, t_course),
        ("one model (MLPClassifier.fit vs tight loop)", t_init, t_plain),
        (f"{args.seeds} seeds (one stack vs {args.seeds} plain loops)", t_stack, t_loop),
    ]
    for name, a, b in rows:
        print(f"{name:46s} {a:10.3f} {b:10.3f} {b / a:7.2f}x")
    mips = args.seeds * n / t_stack
    print(f"stacked throughput: {mips:,.0f} model-iterations per second")
    print(f"largest difference from the plain loop over the stack: {worst:.1e}")


if __name__ == "__main__":
    main()
