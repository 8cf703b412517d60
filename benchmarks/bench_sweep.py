"""Time initlab's sweep path against a per-model NumPy loop, a PyTorch ensemble and scikit-learn.

    python benchmarks/bench_sweep.py [--k 1000] [--iterations 200] [--slow-models 20]
                                     [--wide-k 64] [--wide-iterations 5] [--repeats 2]

Everything is measured in one run on the same machine:

1. the course's network ([2, 10, 5, 1], ReLU, sigmoid output, full batch of 300 circles points,
   float64, gradient descent with learning rate 0.01), in model-iterations per second:

   a. initlab's sweep path: ``engine.train`` on a stack of ``--k`` networks (what ``run_chunk``
      does), and ``initlab.sweep.run_chunk`` itself on ``--k`` configurations of the same group
      (starts drawn one by one, snapshots for iterations-to-target, accuracies, metrics);
   b. a plain per-model NumPy loop (the textbook code, below), on ``--slow-models`` models;
   c. a PyTorch batched ensemble: stacked weights (K, out, in), ``torch.baddbmm``, autograd and one
      ``torch.optim.SGD`` over the stacked parameters, float64, 2 threads, on ``--k`` networks;
   d. scikit-learn's ``MLPClassifier`` (solver="sgd", momentum=0, batch_size=300, alpha=0, every
      iteration run), one model at a time, on ``--slow-models`` models.

   The slow baselines (b, d) run on fewer models; their rate per model-iteration does not depend
   on how many models run one after the other.
2. the peak float64 (and float32) matrix-multiply rate: ``np.matmul`` of two 2048 x 2048 matrices;
3. the wide case: digits (1797 samples), [64, 256, 256, 10], softmax, full batch, ``--wide-k``
   networks, float64 and float32: GFLOP/s achieved against the peak;
4. peak memory (maxrss of a fresh subprocess) of building and training K = 10000 course networks
   for a few iterations;
5. cProfile of a few iterations of the course stack and the wide stack: where the time goes.

A best-of-``--repeats`` timing is used for the fast cases (a, c, wide); b and d run once.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import platform
import pstats
import subprocess
import sys
import time
import warnings

import numpy as np

# The same per-model loop that bench_fit.py times (this folder is on sys.path when run as a script).
from bench_fit import plain_numpy_fit

import initlab
from initlab import engine, load_dataset

SIZES = (2, 10, 5, 1)
WIDE = (64, 256, 256, 10)


def best_of(repeats, fn):
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


# --- (c) the PyTorch ensemble ----------------------------------------------------------------


def torch_ensemble(stack, X, Y, n_iter, lr=0.01):
    import torch

    Ws = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in stack.weights]
    bs = [
        torch.tensor(b[:, :, None], dtype=torch.float64, requires_grad=True) for b in stack.biases
    ]
    K = Ws[0].shape[0]
    Xt = torch.tensor(X, dtype=torch.float64).expand(K, *X.shape).contiguous()
    Yt = torch.tensor(Y, dtype=torch.float64).expand(K, *Y.shape)
    opt = torch.optim.SGD([*Ws, *bs], lr=lr, momentum=0.0)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    losses = []
    for _ in range(n_iter):
        A = Xt
        for l, (W, b) in enumerate(zip(Ws, bs)):
            Z = torch.baddbmm(b, W, A)
            A = torch.relu(Z) if l < len(Ws) - 1 else Z
        # Sum over networks of each network's mean loss: each network gets its own gradient.
        loss = bce(A, Yt, reduction="none").mean(dim=(1, 2))
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        losses.append(loss.detach())
    return [W.detach().numpy() for W in Ws], torch.stack(losses).numpy()


# --- (d) scikit-learn ------------------------------------------------------------------------


def sklearn_fit(X, y, n_iter, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=(10, 5),
        activation="relu",
        solver="sgd",
        momentum=0.0,
        nesterovs_momentum=False,
        learning_rate_init=0.01,
        batch_size=300,
        alpha=0.0,
        max_iter=n_iter,
        tol=0.0,
        n_iter_no_change=10**9,
        shuffle=False,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == n_iter, clf.n_iter_
    return clf


# --- peak, FLOPs, memory, profile --------------------------------------------------------------


def peak_gflops(dtype, n=2048, repeats=3):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    np.matmul(A, B)  # warm up
    t, _ = best_of(repeats, lambda: np.matmul(A, B))
    return 2 * n**3 / t / 1e9


def train_flops(sizes, m):
    """Matrix-product FLOPs of one full-batch iteration of one network: forward W A, weight
    gradients delta A^T, and errors sent back W^T delta (all layers but the first)."""
    pairs = list(itertools.pairwise(sizes))
    prod = [2 * m * i * o for i, o in pairs]
    return 2 * sum(prod) + sum(prod[1:])


MEMORY_CODE = r"""
import sys, time, tracemalloc
import numpy as np
from initlab import engine, load_dataset


def hwm():
    # VmHWM is this process's own peak resident set (ru_maxrss would be inherited across exec
    # from the parent benchmark, which is already large by then).
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))


X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
before = hwm()
K, n = int(sys.argv[1]), int(sys.argv[2])
tracemalloc.start()
t = time.perf_counter()
stack = engine.init_params((2, 10, 5, 1), "he_normal", random_state=list(range(K)))
res = engine.train(
    stack, X.T, y[None, :].astype(float), activation="relu", max_iter=n, backend="numba"
)
t = time.perf_counter() - t
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(before, hwm(), t, res.n_iter, traced)
"""


def peak_memory(K, n):
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_CODE, str(K), str(n)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    before, after, t, n_iter, traced = (
        int(out[0]),
        int(out[1]),
        float(out[2]),
        int(out[3]),
        int(out[4]),
    )
    # MiB: VmHWM is in KiB, tracemalloc in bytes (NumPy reports its buffers to tracemalloc).
    return before / 2**10, after / 2**10, t, n_iter, traced / 2**20


def profile(fn, top=12):
    pr = cProfile.Profile()
    pr.enable()
    fn()
    pr.disable()
    s = io.StringIO()
    pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(top)
    lines = s.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    total = next(line for line in lines if "function calls" in line)
    return "\n".join([total.strip(), *lines[start : start + top + 1]])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--k", type=int, default=1000, help="networks in the stack (course network)")
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument(
        "--slow-models", type=int, default=20, help="models for the NumPy loop, sklearn"
    )
    ap.add_argument("--wide-k", type=int, default=64)
    ap.add_argument("--wide-iterations", type=int, default=5)
    ap.add_argument("--memory-k", type=int, default=10000)
    ap.add_argument("--memory-iterations", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    import sklearn
    import torch

    torch.set_num_threads(2)
    K, n, S = args.k, args.iterations, args.slow_models
    X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    A0 = np.ascontiguousarray(X.T)
    Y = y[None, :].astype(float)

    print(
        f"initlab {initlab.__version__}, NumPy {np.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), scikit-learn {sklearn.__version__}, Python "
        f"{platform.python_version()}, {platform.machine()}"
    )

    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}")
    # Peak first, so it is measured on the same (possibly shared) machine as the rest.
    peak64 = peak_gflops(np.float64)
    peak32 = peak_gflops(np.float32)
    print(f"\npeak np.matmul 2048^3: float64 {peak64:.1f} GFLOP/s, float32 {peak32:.1f} GFLOP/s")

    # (a) initlab: engine.train on a stack, as run_chunk does
    stack = engine.init_params(SIZES, "he_normal", random_state=list(range(K)))

    def initlab_stack(backend="numba", iterations=n):
        return engine.train(
            stack,
            A0,
            Y,
            activation="relu",
            learning_rate=0.01,
            max_iter=iterations,
            products="blas",
            backend=backend,
        )

    initlab_stack(iterations=1)  # compiles the kernel, or loads it from Numba's cache
    t_init, res = best_of(args.repeats, initlab_stack)
    t_numpy, res_numpy = best_of(args.repeats, lambda: initlab_stack("numpy"))
    diff_backends = max(
        np.abs(a - b).max() for a, b in zip(res.params.weights, res_numpy.params.weights)
    )

    # (a') run_chunk on K configurations of one group
    from initlab.sweep import run_chunk
    from initlab.sweep.spec import load_spec

    spec = load_spec(
        {
            "grid": {
                "dataset": "circles",
                "dataset_args": {"n_samples": 300, "noise": 0.05, "random_state": 1},
                "hidden": [[10, 5]],
                "activation": "relu",
                "init": "he_normal",
                "learning_rate": 0.01,
                "iterations": n,
                "seed": {"start": 0, "stop": K},
            },
            "record": {"target_accuracy": 0.9, "curve_every": 100},
        }
    )
    configs = spec.configs()
    t0 = time.perf_counter()
    chunk = run_chunk(configs, spec.record)
    t_chunk = time.perf_counter() - t0
    assert len(chunk) == K

    # (b) per-model NumPy loop on S models
    t0 = time.perf_counter()
    loop = [
        plain_numpy_fit(
            A0,
            Y,
            [W[k] for W in stack.weights],
            [b[k][:, None] for b in stack.biases],
            num_iterations=n,
        )
        for k in range(S)
    ]
    t_loop = time.perf_counter() - t0
    diff_loop = max(np.abs(res.params.weights[0][k] - loop[k][0][0]).max() for k in range(S))

    # (c) PyTorch ensemble on K networks (one untimed iteration first: torch's first-call setup)
    torch_ensemble(stack, A0, Y, 1)
    t_torch, (W_torch, _) = best_of(args.repeats, lambda: torch_ensemble(stack, A0, Y, n))
    diff_torch = np.abs(res.params.weights[0] - W_torch[0]).max()

    # (d) scikit-learn, one model at a time, on S models
    t0 = time.perf_counter()
    for k in range(S):
        sklearn_fit(X, y, n, k)
    t_sk = time.perf_counter() - t0

    # How the stack's rate depends on K (run_chunk's chunks hold at most 256 networks).
    scan = {}
    for k in sorted({k for k in (1, 16, 64, 256) if k < K} | {K}):
        sk = stack.select(slice(0, k))
        tk, _ = best_of(
            args.repeats,
            lambda sk=sk: engine.train(sk, A0, Y, activation="relu", max_iter=50, backend="numba"),
        )
        scan[k] = k * 50 / tk

    rate = {
        "initlab engine.train (stack)": (K, K * n / t_init, t_init),
        "initlab run_chunk (stack + metrics)": (K, K * n / t_chunk, t_chunk),
        "initlab engine.train, NumPy backend": (K, K * n / t_numpy, t_numpy),
        "plain NumPy loop (per model)": (S, S * n / t_loop, t_loop),
        "PyTorch ensemble (bmm, autograd, SGD)": (K, K * n / t_torch, t_torch),
        "scikit-learn MLPClassifier (per model)": (S, S * n / t_sk, t_sk),
    }
    r_init = rate["initlab engine.train (stack)"][1]
    print(
        f"\ncourse network {SIZES}, ReLU, sigmoid, 300 points full batch, float64, {n} iterations"
    )
    print(f"{'case':40s} {'models':>7s} {'seconds':>8s} {'model-it/s':>12s} {'initlab x':>10s}")
    for name, (models, r, t) in rate.items():
        print(f"{name:40s} {models:7d} {t:8.2f} {r:12,.0f} {r_init / r:9.2f}x")
    print(
        f"kernel threads: {initlab._kernels.n_threads()}; "
        "engine.train rate by stack size (50 iterations): "
        + ", ".join(f"K={k}: {r:,.0f}" for k, r in scan.items())
        + " model-it/s"
    )
    f_course = train_flops(SIZES, 300)
    print(
        f"initlab: {r_init * f_course / 1e9:.2f} GFLOP/s of matrix products "
        f"({f_course / 1e3:.0f} kFLOP per model-iteration) = "
        f"{100 * r_init * f_course / 1e9 / peak64:.1f}% of the float64 peak"
    )
    print(
        f"run_chunk overhead: {t_chunk / t_init:.2f}x the bare engine.train time; "
        f"largest weight difference vs NumPy loop {diff_loop:.1e}, vs PyTorch {diff_torch:.1e}, "
        f"vs initlab's NumPy backend {diff_backends:.1e}"
    )

    # Wide case
    Xd, yd = load_dataset("digits")
    Ad = np.ascontiguousarray(Xd.T)
    Yd = np.zeros((10, len(yd)))
    Yd[yd, np.arange(len(yd))] = 1
    Kw, nw = args.wide_k, args.wide_iterations
    f_wide = train_flops(WIDE, Ad.shape[1])
    wide = {}
    for dt in (np.float64, np.float32):
        st = engine.init_params(WIDE, "he_normal", random_state=list(range(Kw)), dtype=dt)

        def run(st=st, dt=dt):
            return engine.train(
                st,
                Ad.astype(dt),
                Yd.astype(dt),
                activation="relu",
                output="softmax",
                loss="cross_entropy",
                learning_rate=0.01,
                max_iter=nw,
                products="blas",
            )

        t, r = best_of(args.repeats, run)
        assert np.isfinite(r.loss).all()
        wide[np.dtype(dt).name] = (t, Kw * nw * f_wide / t / 1e9)
    print(f"\nwide: digits 1797 full batch, {WIDE}, softmax, K = {Kw}, {nw} iterations")
    print(f"({f_wide / 1e6:.0f} MFLOP of matrix products per model-iteration)")
    for name, (t, g) in wide.items():
        pk = peak64 if name == "float64" else peak32
        print(
            f"{name}: {t:7.2f} s, {Kw * nw / t:8.1f} model-it/s, {g:6.1f} GFLOP/s = "
            f"{100 * g / peak64:.0f}% of the float64 peak ({100 * g / pk:.0f}% of {name} peak)"
        )
    print(f"float32 / float64 speed: {wide['float64'][0] / wide['float32'][0]:.2f}x")

    # Memory
    mb0, mb1, tm, nm, mtr = peak_memory(args.memory_k, args.memory_iterations)
    print(
        f"\nmemory: K = {args.memory_k} course networks, init + {nm} iterations in a fresh "
        f"process ({tm:.1f} s): peak RSS (VmHWM) {mb1:.0f} MiB ({mb0:.0f} MiB after imports and "
        f"data); tracemalloc peak of building + training {mtr:.0f} MiB"
    )

    # Profiles
    print(
        f"\ncProfile: engine.train, course network, K = {K}, 20 iterations (by own time; the "
        "kernel is one call, so the NumPy backend is shown)"
    )
    print(
        profile(
            lambda: engine.train(
                stack, A0, Y, activation="relu", max_iter=20, products="blas", backend="numpy"
            )
        )
    )
    st = engine.init_params(WIDE, "he_normal", random_state=list(range(Kw)))
    print(f"\ncProfile: engine.train, wide float64, K = {Kw}, 2 iterations (by own time)")
    print(
        profile(
            lambda: engine.train(
                st,
                Ad,
                Yd,
                activation="relu",
                output="softmax",
                loss="cross_entropy",
                max_iter=2,
                products="blas",
            )
        )
    )

    print(f"\nload average at end: {open('/proc/loadavg').read().split()[:3]}")
    print("\ngoals:")
    goals = [
        (
            "initlab >= 10x per-model NumPy loop",
            r_init / rate["plain NumPy loop (per model)"][1],
            10,
        ),
        (
            "initlab >= 8x PyTorch ensemble",
            r_init / rate["PyTorch ensemble (bmm, autograd, SGD)"][1],
            8,
        ),
        ("wide float64 >= 0.5 of peak", wide["float64"][1] / peak64, 0.5),
        ("wide float32 >= 1.8x float64", wide["float64"][0] / wide["float32"][0], 1.8),
    ]
    for name, v, target in goals:
        print(f"  {name:40s} {v:8.2f}  {'met' if v >= target else 'NOT met'}")
    print(
        f"  {f'K={args.memory_k} peak memory < 2 GB':40s} {mb1:6.0f} MiB  "
        f"{'met' if mb1 < 2000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
