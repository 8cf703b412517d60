"""Time initlab's sweep path against the peers a researcher would pick instead, in one run.

    python benchmarks/bench_sweep.py [--k 1000] [--iterations 200] [--slow-models 20]
                                     [--wide-k 64] [--wide-iterations 5] [--repeats 3]

Everything is measured in one run on the same machine, and the peers' trained weights are
checked against initlab's (the same starts, the same 200 steps) before any rate is printed:

1. the peak float64 and float32 matrix-multiply rate: ``np.matmul`` of two 2048 x 2048 matrices;
2. the course's network ([2, 10, 5, 1], ReLU, sigmoid output, binary cross-entropy, full batch of
   300 circles points, float64, gradient descent with learning rate 0.01), in model-iterations
   per second:

   a. initlab: ``engine.train(backend="numba")`` on a stack of ``--k`` networks (the compiled
      kernel that sweeps use), ``initlab.sweep.run_chunk`` on ``--k`` configurations of one group
      (starts, checkpoint accuracies, every metric), the same stack in float32, and through the
      NumPy backend (the reference path);
   b. a plain per-model NumPy loop (the textbook code, ``bench_fit.py``), on ``--slow-models``;
   c. a PyTorch ensemble: stacked weights (K, out, in), ``torch.baddbmm``, autograd and one
      ``torch.optim.SGD`` over the stacked parameters, float64, 2 threads;
   d. ``torch.func``: ``vmap(grad(loss))`` over the stacked parameters, the update by hand, as in
      PyTorch's model-ensembling tutorial, float64, 2 threads;
   e. JAX: ``jit(vmap(train))`` where ``train`` is one network's whole training loop as a
      ``lax.fori_loop`` of ``grad`` steps, float64 (``jax_enable_x64``); skipped with a message
      when JAX is not installed (``pip install 'initlab[bench]'``), as c and d are without
      PyTorch (``initlab[torch]``);
   f. scikit-learn's ``MLPClassifier`` (solver="sgd", momentum=0, batch_size=300, alpha=0, every
      iteration run), one model at a time, on ``--slow-models`` models;

   the slow baselines (b, f) run on fewer models: their rate per model-iteration does not depend
   on how many run one after another. The kernel's time is then split by running its parts on
   their own (a forward pass; an iteration with a squared-error loss instead of the
   cross-entropy's exp and log): where the time goes inside one compiled call, which cProfile
   cannot see.
3. the wide case: digits (1797 samples), [64, 256, 256, 10], softmax, full batch, ``--wide-k``
   networks, float64 and float32, through the kernel (what ``backend="auto"`` picks up to
   ``KERNEL_MAX_WIDTH`` units), the BLAS path (BLAS products with compiled element-wise passes,
   one network per core) and the NumPy backend: GFLOP/s against the peak; both compiled paths
   over widths 64 to 512 (where the kernel stops leading), and a cProfile of the BLAS path;
4. peak memory (VmHWM of a fresh subprocess) of building and training K = 10000 course networks.

A best-of-``--repeats`` timing is used for everything fast; b and f run once.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import itertools
import os
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
from initlab import _kernels, engine, load_dataset
from initlab.activations import get_activation

SIZES = (2, 10, 5, 1)
WIDE = (64, 256, 256, 10)
LR = 0.01


@contextlib.contextmanager
def forced_path(path):
    """Make the compiled backend take the kernel or the BLAS path for any width (a benchmark's
    lever: KERNEL_MAX_WIDTH is where the library switches)."""
    old = engine.KERNEL_MAX_WIDTH
    engine.KERNEL_MAX_WIDTH = {"kernel": 10**9, "blas": 0}.get(path, old)
    try:
        yield
    finally:
        engine.KERNEL_MAX_WIDTH = old


def best_of(repeats, fn):
    times, result = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


# --- (c) the PyTorch ensemble ----------------------------------------------------------------


def torch_ensemble(stack, X, Y, n_iter):
    import torch

    Ws = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in stack.weights]
    bs = [
        torch.tensor(b[:, :, None], dtype=torch.float64, requires_grad=True) for b in stack.biases
    ]
    K = Ws[0].shape[0]
    Xt = torch.tensor(X, dtype=torch.float64).expand(K, *X.shape).contiguous()
    Yt = torch.tensor(Y, dtype=torch.float64).expand(K, *Y.shape)
    opt = torch.optim.SGD([*Ws, *bs], lr=LR, momentum=0.0)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
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
    return [W.detach().numpy() for W in Ws]


# --- (d) torch.func: vmap(grad) --------------------------------------------------------------


def torch_func(stack, X, Y, n_iter):
    """Per-network gradients by ``torch.func.vmap(torch.func.grad(loss))`` over the stacked
    parameters (in_dims 0 for the parameters, None for the shared data), then w -= lr g."""
    import torch
    from torch.func import grad, vmap

    L = len(stack.weights)
    params = tuple(torch.tensor(a, dtype=torch.float64) for a in (*stack.weights, *stack.biases))
    Xt = torch.tensor(X, dtype=torch.float64)
    Yt = torch.tensor(Y, dtype=torch.float64)

    def loss(params, X, Y):  # one network: weights (out, in), biases (out,), X (n, m)
        A = X
        for l in range(L):
            Z = params[l] @ A + params[L + l][:, None]
            A = torch.relu(Z) if l < L - 1 else Z
        return torch.nn.functional.binary_cross_entropy_with_logits(A, Y)

    per_network = vmap(grad(loss), in_dims=(0, None, None))
    for _ in range(n_iter):
        grads = per_network(params, Xt, Yt)
        params = tuple(p - LR * g for p, g in zip(params, grads))
    return [p.numpy() for p in params[:L]]


# --- (e) JAX: jit(vmap(a fori_loop training loop)) ------------------------------------------


def jax_trainer(n_iter):
    """A compiled trainer for a stack, or None (with the reason) when JAX is not installed."""
    try:
        import jax
    except ImportError:
        return None, "JAX is not installed (pip install 'initlab[bench]')"
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def loss(params, X, Y):
        Ws, bs = params
        A = X
        for l, (W, b) in enumerate(zip(Ws, bs)):
            Z = W @ A + b[:, None]
            A = jax.nn.relu(Z) if l < len(Ws) - 1 else Z
        # binary cross-entropy from logits, the mean over samples: softplus(z) - y z
        return jnp.mean(jnp.logaddexp(0.0, A) - Y * A)

    def train_one(params, X, Y):
        def body(_, p):
            g = jax.grad(loss)(p, X, Y)
            return jax.tree_util.tree_map(lambda w, gw: w - LR * gw, p, g)

        return jax.lax.fori_loop(0, n_iter, body, params)

    train = jax.jit(jax.vmap(train_one, in_axes=(0, None, None)))

    def run(stack, X, Y):
        params = ([jnp.asarray(W) for W in stack.weights], [jnp.asarray(b) for b in stack.biases])
        out = train(params, jnp.asarray(X), jnp.asarray(Y))
        return [np.asarray(jax.block_until_ready(W)) for W in out[0]]

    return run, f"JAX {jax.__version__} (x64, {jax.devices()[0].platform})"


# --- (f) scikit-learn ------------------------------------------------------------------------


def sklearn_fit(X, y, n_iter, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=(10, 5),
        activation="relu",
        solver="sgd",
        momentum=0.0,
        nesterovs_momentum=False,
        learning_rate_init=LR,
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
from initlab import _kernels, engine, load_dataset
from initlab.activations import get_activation


def hwm():
    # VmHWM is this process's own peak resident set (ru_maxrss would be inherited across exec
    # from the parent benchmark, which is already large by then).
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM"))


X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
_kernels.ensure_compiled(np.float64)  # loaded from the cache the parent filled
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


def kernel_parts(stack, A0, Y, n, repeats):
    """Core-seconds per model-iteration of the kernel's parts, on the same stack: a whole
    iteration, an iteration with squared error through an identity output (no exp or log in the
    loss), and a forward pass alone (the kernel's accuracy pass: the forward pass and the count
    of correct predictions, on the stack repeated n times so that one call does as many passes
    as the iterations do)."""
    theta0 = engine._flatten(stack)
    Xb, nv = _kernels.pack(A0[None], theta0.dtype)
    Yb, _ = _kernels.pack(Y[None], theta0.dtype)
    lay = _kernels.layout(SIZES)
    relu = (_kernels.ACTIVATION_CODES["relu"], 0.0)
    tiled = np.tile(theta0, (n, 1))

    def run(output, loss, iterations):
        theta = theta0.copy()
        _kernels.run(
            theta,
            Xb,
            Yb,
            nv,
            A0.shape[1],
            lay,
            relu,
            output,
            loss,
            learning_rate=LR,
            n_iter=iterations,
        )

    def forward():
        K = tiled.shape[0]
        _kernels.run(
            tiled,
            Xb,
            Yb,
            nv,
            A0.shape[1],
            lay,
            relu,
            0,
            0,
            learning_rate=0.0,
            n_iter=0,
            active=np.zeros(K, bool),
            final_accuracy=np.empty(K),
        )

    per = theta0.shape[0] * n / _kernels.n_threads()
    whole, _ = best_of(repeats, lambda: run(0, 0, n))
    no_exp, _ = best_of(repeats, lambda: run(2, 2, n))
    fwd, _ = best_of(repeats, forward)
    return whole / per, no_exp / per, fwd / per


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
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import sklearn

    try:
        import torch

        torch.set_num_threads(2)
        torch_name = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:  # the PyTorch peers are skipped, saying so
        torch = None
        torch_name = "torch not installed (pip install 'initlab[torch]')"
    K, n, S, R = args.k, args.iterations, args.slow_models, args.repeats
    X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    A0 = np.ascontiguousarray(X.T)
    Y = y[None, :].astype(float)

    import numba

    print(
        f"initlab {initlab.__version__}, NumPy {np.__version__}, Numba {numba.__version__} "
        f"({_kernels.n_threads()} threads), {torch_name}, scikit-learn {sklearn.__version__}, "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}")
    # Peak first, so it is measured on the same (possibly shared) machine as the rest.
    peak64 = peak_gflops(np.float64)
    peak32 = peak_gflops(np.float32)
    print(f"\npeak np.matmul 2048^3: float64 {peak64:.1f} GFLOP/s, float32 {peak32:.1f} GFLOP/s")

    # --- (a) initlab ---------------------------------------------------------------------
    stack = engine.init_params(SIZES, "he_normal", random_state=list(range(K)))
    stack32 = engine.init_params(SIZES, "he_normal", random_state=list(range(K)), dtype="float32")

    def initlab_stack(st=stack, backend="numba", iterations=n):
        return engine.train(
            st,
            A0,
            Y,
            activation="relu",
            learning_rate=LR,
            max_iter=iterations,
            products="blas",
            backend=backend,
        )

    t = time.perf_counter()
    initlab_stack(iterations=1)  # compiles the kernel, or loads it from Numba's cache
    initlab_stack(stack32, iterations=1)
    t_compile = time.perf_counter() - t
    t_init, res = best_of(R, initlab_stack)
    t_init32, res32 = best_of(R, lambda: initlab_stack(stack32))
    t_numpy, res_numpy = best_of(1, lambda: initlab_stack(backend="numpy"))

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
                "learning_rate": LR,
                "iterations": n,
                "seed": {"start": 0, "stop": K},
            },
            "record": {"target_accuracy": 0.9, "curve_every": 100},
        }
    )
    configs = spec.configs()
    run_chunk(configs[:2], spec.record)
    # run_chunk and the bare kernel alternate, so that both see the same machine
    chunk_times, kernel_times = [], []
    for _ in range(R):
        t0 = time.perf_counter()
        chunk = run_chunk(configs, spec.record)
        chunk_times.append(time.perf_counter() - t0)
        kernel_times.append(best_of(1, initlab_stack)[0])
    t_chunk = min(chunk_times)
    chunk_ratio = float(np.median(np.array(chunk_times) / np.array(kernel_times)))
    assert len(chunk) == K

    # --- (b) per-model NumPy loop on S models ------------------------------------------
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

    # --- (c, d) PyTorch: the bmm ensemble and torch.func (one untimed iteration first) ------
    t_torch = t_func = None
    if torch is not None:
        torch_ensemble(stack, A0, Y, 1)
        t_torch, W_torch = best_of(R, lambda: torch_ensemble(stack, A0, Y, n))
        torch_func(stack, A0, Y, 1)
        t_func, W_func = best_of(R, lambda: torch_func(stack, A0, Y, n))

    # --- (e) JAX (compiled in an untimed first call) -------------------------------------
    jax_run, jax_name = jax_trainer(n)
    t_jax = W_jax = None
    if jax_run is not None:
        t = time.perf_counter()
        jax_run(stack, A0, Y)
        jax_compile = time.perf_counter() - t
        t_jax, W_jax = best_of(R, lambda: jax_run(stack, A0, Y))

    # --- (f) scikit-learn ----------------------------------------------------------------
    t0 = time.perf_counter()
    for k in range(S):
        sklearn_fit(X, y, n, k)
    t_sk = time.perf_counter() - t0

    # Same starts, same steps: the same weights to rounding, or no rate is worth printing.
    W0 = res.params.weights
    diffs = {
        "initlab NumPy backend": max(
            np.abs(a - b).max() for a, b in zip(W0, res_numpy.params.weights)
        ),
        "per-model NumPy loop": max(np.abs(W0[0][k] - loop[k][0][0]).max() for k in range(S)),
    }
    if t_torch is not None:
        diffs["PyTorch ensemble"] = max(np.abs(a - b).max() for a, b in zip(W0, W_torch))
        diffs["torch.func"] = max(np.abs(a - b).max() for a, b in zip(W0, W_func))
    if W_jax is not None:
        diffs["JAX"] = max(np.abs(a - b).max() for a, b in zip(W0, W_jax))
    for name, d in diffs.items():
        assert d < 1e-10, f"{name} trained other weights: largest difference {d:.2e}"

    rate = {
        "initlab engine.train, kernel (stack)": (K, K * n / t_init, t_init),
        "initlab run_chunk (kernel + metrics)": (K, K * n / t_chunk, t_chunk),
        "initlab engine.train, NumPy backend": (K, K * n / t_numpy, t_numpy),
        "plain NumPy loop (per model)": (S, S * n / t_loop, t_loop),
    }
    if t_torch is not None:
        rate["PyTorch ensemble (bmm, autograd, SGD)"] = (K, K * n / t_torch, t_torch)
        rate["torch.func vmap(grad)"] = (K, K * n / t_func, t_func)
    if t_jax is not None:
        rate["JAX jit(vmap(fori_loop train))"] = (K, K * n / t_jax, t_jax)
    rate["scikit-learn MLPClassifier (per model)"] = (S, S * n / t_sk, t_sk)
    r_init = rate["initlab engine.train, kernel (stack)"][1]
    print(
        f"\ncourse network {SIZES}, ReLU, sigmoid, 300 points full batch, float64, {n} iterations"
    )
    print(f"{'case':40s} {'models':>7s} {'seconds':>8s} {'model-it/s':>12s} {'initlab x':>10s}")
    for name, (models, r, t) in rate.items():
        print(f"{name:40s} {models:7d} {t:8.2f} {r:12,.0f} {r_init / r:9.2f}x")
    if t_torch is None:
        print(f"PyTorch ensemble and torch.func: skipped, {torch_name}")
    if t_jax is None:
        print(f"JAX: skipped, {jax_name}")
    else:
        print(f"{jax_name}: compiled in {jax_compile:.1f} s (not timed)")
    print(
        "largest weight difference from initlab's kernel after the run: "
        + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
    )
    f_course = train_flops(SIZES, 300)
    g_init = r_init * f_course / 1e9
    r32 = K * n / t_init32
    d32 = max(np.abs(a - b).max() for a, b in zip(res.params.weights, res32.params.weights))
    print(
        f"initlab kernel: {g_init:.1f} GFLOP/s of matrix products ({f_course / 1e3:.0f} kFLOP per "
        f"model-iteration) = {100 * g_init / peak64:.1f}% of the float64 peak; float32 "
        f"{r32:,.0f} model-it/s = {r32 / r_init:.2f}x float64 (weights within {d32:.1e} of "
        f"float64's); compile or cache load of both kernels {t_compile:.1f} s"
    )
    print(
        f"run_chunk: {chunk_ratio:.2f}x the bare kernel (median over {R} alternating runs of "
        f"the ratio; {t_chunk:.2f} s best)"
    )
    scan = {}
    for k in sorted({k for k in (1, 16, 64, 256) if k < K} | {K}):
        sk = stack.select(slice(0, k))
        tk, _ = best_of(R, lambda sk=sk: initlab_stack(sk, iterations=50))
        scan[k] = k * 50 / tk
    print(
        "kernel rate by stack size (50 iterations): "
        + ", ".join(f"K={k}: {r:,.0f}" for k, r in scan.items())
        + " model-it/s"
    )
    whole, no_exp, fwd = kernel_parts(stack, A0, Y, n, R)
    print(
        f"kernel profile, core-microseconds per model-iteration: whole iteration {whole * 1e6:.2f}"
        f" = forward pass and accuracy count {fwd * 1e6:.2f} + loss (exp, log1p, error) "
        f"{(whole - no_exp) * 1e6:.2f} + backward and update {(no_exp - fwd) * 1e6:.2f}; at "
        f"the float64 peak the products alone would take "
        f"{f_course / (peak64 / _kernels.n_threads()) / 1e3:.2f}"
    )

    # --- wide case ------------------------------------------------------------------------
    Xd, yd = load_dataset("digits")
    Ad = np.ascontiguousarray(Xd.T)
    Yd = np.zeros((10, len(yd)))
    Yd[yd, np.arange(len(yd))] = 1
    Kw, nw = args.wide_k, args.wide_iterations
    f_wide = train_flops(WIDE, Ad.shape[1])

    def train_wide(st, dtype, path, iterations):
        dt = st.weights[0].dtype
        with forced_path(path):
            return engine.train(
                st,
                Ad.astype(dt),
                Yd.astype(dt),
                activation="relu",
                output="softmax",
                loss="cross_entropy",
                learning_rate=LR,
                max_iter=iterations,
                products="blas",
                backend="numpy" if path == "numpy" else "numba",
            )

    wide = {}
    for dt in (np.float64, np.float32):
        st = engine.init_params(WIDE, "he_normal", random_state=list(range(Kw)), dtype=dt)
        for path in ("kernel", "blas", "numpy"):
            if path != "numpy":
                train_wide(st, dt, path, 1)  # compiles, or loads from the cache
            t, r = best_of(
                R if path != "numpy" else 1, lambda st=st, dt=dt, p=path: train_wide(st, dt, p, nw)
            )
            assert np.isfinite(r.loss).all()
            wide[np.dtype(dt).name, path] = (t, Kw * nw * f_wide / t / 1e9, r)
    auto = engine._path("auto", WIDE, get_activation("relu"))
    print(f"\nwide: digits 1797 full batch, {WIDE}, softmax, K = {Kw}, {nw} iterations")
    print(
        f"({f_wide / 1e6:.0f} MFLOP of matrix products per model-iteration; backend='auto' "
        f"takes the {auto} path)"
    )
    for (name, path), (t, g, _) in wide.items():
        pk = peak64 if name == "float64" else peak32
        print(
            f"{name} {path:6s}: {t:7.2f} s, {Kw * nw / t:8.1f} model-it/s, {g:6.1f} GFLOP/s = "
            f"{100 * g / peak64:.0f}% of the float64 peak ({100 * g / pk:.0f}% of {name} peak)"
        )
    ref = wide["float64", "numpy"][2].params.weights
    dw = {
        p: max(np.abs(a - b).max() for a, b in zip(wide["float64", p][2].params.weights, ref))
        for p in ("kernel", "blas")
    }
    wide32 = wide["float64", auto][0] / wide["float32", auto][0]
    print(
        f"weights after the run vs the NumPy backend: kernel {dw['kernel']:.1e}, BLAS path "
        f"{dw['blas']:.1e}; float32 / float64 speed ({auto} path): {wide32:.2f}x"
    )
    # Where the kernel stops leading: both compiled paths over widths, the same work each.
    scan = []
    for width in (64, 128, 256, 384, 512):
        sizes = (64, width, width, 10)
        k = max(2, round(Kw * (train_flops(WIDE, 1) / train_flops(sizes, 1)) / 8))
        st = engine.init_params(sizes, "he_normal", random_state=list(range(k)))
        times = {}
        for path in ("kernel", "blas"):
            with forced_path(path):
                run = lambda st=st: engine.train(  # noqa: E731
                    st,
                    Ad,
                    Yd,
                    activation="relu",
                    output="softmax",
                    loss="cross_entropy",
                    max_iter=2,
                    products="blas",
                    backend="numba",
                )
                run()
                times[path], _ = best_of(R, run)
        scan.append((width, k, times["blas"] / times["kernel"]))
    print(
        "kernel / BLAS path speed by width (digits, 2 iterations): "
        + ", ".join(f"{w}: {x:.2f}x (K={k})" for w, k, x in scan)
        + f"; KERNEL_MAX_WIDTH = {engine.KERNEL_MAX_WIDTH}"
    )

    # --- memory ---------------------------------------------------------------------------
    mb0, mb1, tm, nm, mtr = peak_memory(args.memory_k, args.memory_iterations)
    print(
        f"\nmemory: K = {args.memory_k} course networks, init + {nm} iterations in a fresh "
        f"process ({tm:.1f} s): peak RSS (VmHWM) {mb1:.0f} MiB ({mb0:.0f} MiB after imports, "
        f"data and the kernel); tracemalloc peak of building + training {mtr:.0f} MiB"
    )

    # --- profiles -------------------------------------------------------------------------
    # One network: the work one core does on the BLAS path (cProfile sees the main thread only).
    st = engine.init_params(WIDE, "he_normal", random_state=[0])
    print("\ncProfile: engine.train, wide float64, one network, 4 iterations, BLAS path")
    print(profile(lambda: train_wide(st, np.float64, "blas", 4)))

    print(f"\nload average at end: {open('/proc/loadavg').read().split()[:3]}")
    print("\ngoals:")
    goals = [
        ("course kernel >= 50% of the float64 peak", g_init / peak64, 0.5),
        ("run_chunk <= 1.15x the bare kernel", 1.15 / chunk_ratio, 1.0),
        ("wide float64 >= 50% of the float64 peak", wide["float64", auto][1] / peak64, 0.5),
        ("float32 >= 1.8x float64, course", r32 / r_init, 1.8),
        ("float32 >= 1.8x float64, wide", wide32, 1.8),
    ]
    if t_torch is not None:
        r_bmm = rate["PyTorch ensemble (bmm, autograd, SGD)"][1]
        goals.insert(1, ("course kernel >= 8x PyTorch ensemble", r_init / r_bmm, 8))
    if t_jax is not None:
        goals.insert(
            1 + (t_torch is not None), ("course kernel >= 8x JAX", r_init / (K * n / t_jax), 8)
        )
    for name, v, target in goals:
        shown = chunk_ratio if name.startswith("run_chunk") else v
        print(f"  {name:42s} {shown:8.2f}  {'met' if v >= target else 'NOT met'}")
    print(
        f"  {f'K={args.memory_k} peak memory < 2 GB':42s} {mb1:6.0f} MiB  "
        f"{'met' if mb1 < 2000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
