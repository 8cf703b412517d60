"""The engine's compiled training step (Numba): one gradient step of K small networks.

:func:`step` computes, for every active network of a stack, the loss and its gradient with
respect to the network's flat parameter row, and optionally applies the plain gradient-descent
update, in one pass that keeps each network's activations in the core's cache. The networks are
shared out over the cores (``numba.prange`` over slices of the stack); each network is computed
by one thread from start to end with the same sequence of operations, so its numbers do not
depend on the stack around it, on the number of threads or on how the stack was sliced: a
network gives the same bits alone or in a stack of 1000.

The arithmetic is the engine's (:mod:`initlab.engine`, :mod:`initlab.losses`), with sums taken
in the compiler's order (``fastmath`` reassociation and fused multiply-adds, never the
no-NaN/no-inf assumptions, which would hide divergence): results agree with the NumPy path to
rounding, not bit for bit. Equal units stay equal bit for bit, because each unit of a layer is
computed by the same instructions. The NumPy path remains the reference (it reproduces the
course's runs operation for operation); ``engine.train(backend=...)`` chooses.

Layout: parameters of network k live in ``theta[k]``: the weights of layer 0 (out, in)
row-major, then those of layer 1, ..., then the biases of layer 0, 1, ... (``engine._views``).
Inputs and targets are feature-major, (Kx, n, m) with Kx = 1 (shared by the stack) or K.
"""

from __future__ import annotations

import math

import numpy as np

try:  # Numba is a dependency; without it (an unsupported platform) the NumPy path runs alone.
    import numba
    from numba import njit, prange

    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised only where numba cannot be installed
    AVAILABLE = False

__all__ = ["ACTIVATION_CODES", "AVAILABLE", "LOSS_CODES", "OUTPUT_CODES", "n_threads", "step"]

ACTIVATION_CODES = {
    "linear": 0,
    "relu": 1,
    "leaky_relu": 2,
    "tanh": 3,
    "sigmoid": 4,
    "elu": 5,
    "selu": 6,
    "gelu": 7,
    "silu": 8,
    "softplus": 9,
}
# The activation's parameter (leaky_relu's slope, elu's alpha), by name.
ACTIVATION_PARAM = {"leaky_relu": "slope", "elu": "alpha"}


def activation_code(act) -> tuple[int, float]:
    """The kernel's (code, parameter) for an :class:`initlab.activations.Activation`."""
    return ACTIVATION_CODES[act.name], float(act.params.get(ACTIVATION_PARAM.get(act.name, ""), 0))


OUTPUT_CODES = {"sigmoid": 0, "softmax": 1, "identity": 2}
LOSS_CODES = {"binary_cross_entropy": 0, "cross_entropy": 1, "squared_error": 2}

# Reassociation and contraction only: "fast" would let the compiler assume no NaN and no inf,
# and the divergence check would be optimized away.
_FASTMATH = {"reassoc", "contract", "nsz"}
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def n_threads() -> int:
    """Threads the kernel runs on (Numba's; ``NUMBA_NUM_THREADS`` sets it)."""
    return numba.get_num_threads() if AVAILABLE else 1


if AVAILABLE:
    _jit = njit(fastmath=_FASTMATH, cache=True, nogil=True)

    @_jit
    def _sigmoid(z):
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    # exp and log1p in a form the compiler vectorizes (the libm calls are not): the binary
    # cross-entropy needs both for every sample and iteration, which otherwise costs as much as
    # all the matrix products of a small network.
    _LOG2E = 1.4426950408889634
    _LN2_HI = 0.6931471803691238  # ln 2 in two parts (Cody and Waite): n ln2_hi is exact
    _LN2_LO = 1.9082149292705877e-10

    # Without reassociation: it would undo the two-part reduction below.
    @njit(fastmath={"contract"}, cache=True, nogil=True)
    def _exp_neg_abs(z, scale, e, bits, m):
        """e[:m] = exp(-scale |z[:m]|), accurate to an ulp (bits: int64 scratch of m).

        exp(t) = 2^n exp(r) with n = round(t / ln 2) and |r| <= ln(2)/2, exp(r) from its Taylor
        polynomial of degree 13 (truncation below 1e-17), 2^n written into the exponent bits.
        Arguments below -708 are clamped there: exp(-708) = 3e-308, which no sum here can tell
        from the true value.
        """
        for s in range(m):
            t = max(-scale * abs(z[s]), -708.0)
            n = np.floor(t * _LOG2E + 0.5)
            r = (t - n * _LN2_HI) - n * _LN2_LO
            q = 1.0 / 6227020800.0
            q = q * r + 1.0 / 479001600.0
            q = q * r + 1.0 / 39916800.0
            q = q * r + 1.0 / 3628800.0
            q = q * r + 1.0 / 362880.0
            q = q * r + 1.0 / 40320.0
            q = q * r + 1.0 / 5040.0
            q = q * r + 1.0 / 720.0
            q = q * r + 1.0 / 120.0
            q = q * r + 1.0 / 24.0
            q = q * r + 1.0 / 6.0
            q = q * r + 0.5
            q = q * r + 1.0
            q = q * r + 1.0
            bits[s] = (np.int64(n) + 1023) << 52
            e[s] = q
        scale2 = bits.view(np.float64)  # 2^n; a separate loop, so that both loops vectorize
        for s in range(m):
            e[s] *= scale2[s]

    @_jit
    def _log1p_unit(e):
        """log(1 + e) for 0 <= e <= 1: 2 atanh(t) with t = e / (2 + e) <= 1/3, the odd series
        to t^35 (truncation below 1e-17 relative)."""
        t = e / (2.0 + e)
        t2 = t * t
        q = 1.0 / 35.0
        q = q * t2 + 0.030303030303030304
        q = q * t2 + 0.03225806451612903
        q = q * t2 + 0.034482758620689655
        q = q * t2 + 0.037037037037037035
        q = q * t2 + 0.04
        q = q * t2 + 0.043478260869565216
        q = q * t2 + 0.047619047619047616
        q = q * t2 + 0.05263157894736842
        q = q * t2 + 0.058823529411764705
        q = q * t2 + 0.06666666666666667
        q = q * t2 + 0.07692307692307693
        q = q * t2 + 0.09090909090909091
        q = q * t2 + 0.1111111111111111
        q = q * t2 + 0.14285714285714285
        q = q * t2 + 0.2
        q = q * t2 + 0.3333333333333333
        q = q * t2 + 1.0
        return 2.0 * t * q

    @_jit
    def _tanh(z, a, e, bits, m):
        """a[:m] = tanh(z[:m]) = sign(z) (-u) / (2 + u) with u = expm1(-2|z|), to a few ulp.

        u is exp(t) - 1 where that has no cancellation (t = -2|z| <= -1.1), else the Taylor
        polynomial of expm1 of degree 18 (truncation below 1e-16 relative on [-1.1, 0]).
        """
        _exp_neg_abs(z, 2.0, e, bits, m)
        for s in range(m):
            t = -2.0 * abs(z[s])
            q = 1.5619206968586225e-16
            q = q * t + 2.8114572543455206e-15
            q = q * t + 4.779477332387385e-14
            q = q * t + 7.647163731819816e-13
            q = q * t + 1.1470745597729725e-11
            q = q * t + 1.6059043836821613e-10
            q = q * t + 2.08767569878681e-09
            q = q * t + 2.505210838544172e-08
            q = q * t + 2.755731922398589e-07
            q = q * t + 2.7557319223985893e-06
            q = q * t + 2.48015873015873e-05
            q = q * t + 0.0001984126984126984
            q = q * t + 0.001388888888888889
            q = q * t + 0.008333333333333333
            q = q * t + 0.041666666666666664
            q = q * t + 0.16666666666666666
            q = q * t + 0.5
            q = q * t + 1.0
            u = t * q if t > -1.1 else e[s] - 1.0
            r = -u / (2.0 + u)
            a[s] = r if z[s] >= 0 else -r

    @_jit
    def _sigmoid_row(z, a, e, bits, m):
        """a[:m] = 1 / (1 + exp(-z[:m])), as (1 or e) / (1 + e) with e = exp(-|z|)."""
        _exp_neg_abs(z, 1.0, e, bits, m)
        for s in range(m):
            a[s] = (1.0 if z[s] >= 0 else e[s]) / (1.0 + e[s])

    # Without fast-math flags: under them the compiler may fold the test away.
    @njit(cache=True, nogil=True)
    def _finite(loss, g):
        """Whether the loss and every gradient entry are finite."""
        if not math.isfinite(loss):
            return False
        for p in range(g.shape[0]):
            if not math.isfinite(g[p]):
                return False
        return True

    @_jit
    def _activate(code, p, z, a, m, e, bits):
        """a[:m] = phi(z[:m]) for one unit."""
        if code == 0:
            for s in range(m):
                a[s] = z[s]
        elif code == 1:  # NaN stays NaN, as np.maximum keeps it: divergence must show
            for s in range(m):
                a[s] = 0.0 if z[s] <= 0 else z[s]
        elif code == 2:
            for s in range(m):
                a[s] = z[s] if z[s] > 0 else p * z[s]
        elif code == 3:
            _tanh(z, a, e, bits, m)
        elif code == 4:
            _sigmoid_row(z, a, e, bits, m)
        elif code == 5:
            for s in range(m):
                a[s] = z[s] if z[s] > 0 else p * math.expm1(z[s])
        elif code == 6:
            for s in range(m):
                a[s] = _SELU_SCALE * (z[s] if z[s] > 0 else _SELU_ALPHA * math.expm1(z[s]))
        elif code == 7:
            for s in range(m):
                a[s] = 0.5 * z[s] * (1.0 + math.erf(z[s] / _SQRT2))
        elif code == 8:
            for s in range(m):
                a[s] = z[s] * _sigmoid(z[s])
        else:
            for s in range(m):
                a[s] = max(z[s], 0.0) + math.log1p(math.exp(-abs(z[s])))

    @_jit
    def _times_derivative(code, p, z, a, d, m):
        """d[:m] *= phi'(z[:m]) for one unit, given a = phi(z)."""
        if code == 0:
            return
        if code == 1:
            for s in range(m):
                d[s] = d[s] if z[s] > 0 else 0.0
        elif code == 2:
            for s in range(m):
                d[s] = d[s] if z[s] > 0 else p * d[s]
        elif code == 3:
            for s in range(m):
                d[s] *= 1.0 - a[s] * a[s]
        elif code == 4:
            for s in range(m):
                d[s] *= a[s] * (1.0 - a[s])
        elif code == 5:
            for s in range(m):
                d[s] = d[s] if z[s] > 0 else d[s] * (a[s] + p)
        elif code == 6:
            for s in range(m):
                d[s] *= _SELU_SCALE if z[s] > 0 else a[s] + _SELU_SCALE * _SELU_ALPHA
        elif code == 7:
            for s in range(m):
                x = z[s]
                d[s] *= 0.5 * math.erfc(-x / _SQRT2) + x * math.exp(-0.5 * x * x) * _INV_SQRT_2PI
        elif code == 8:
            for s in range(m):
                sg = _sigmoid(z[s])
                d[s] *= sg * (1.0 + z[s] * (1.0 - sg))
        else:
            for s in range(m):
                d[s] *= _sigmoid(z[s])

    @_jit
    def _output_and_loss(out_code, loss_code, z, y, d, c, m, e, buf):
        """The error dL/dz of the last layer into d[:c, :m]; returns the loss (mean over m)."""
        inv_m = 1.0 / m
        total = 0.0
        if loss_code == 0:  # sigmoid + binary cross-entropy: softplus(z) - y z
            for o in range(c):
                zo, yo, do = z[o], y[o], d[o]
                _exp_neg_abs(zo, 1.0, e, buf, m)
                for s in range(m):
                    x = zo[s]
                    es = e[s]
                    p = (1.0 if x >= 0 else es) / (1.0 + es)
                    total += max(x, 0.0) - yo[s] * x + _log1p_unit(es)
                    do[s] = (p - yo[s]) * inv_m
            return total * inv_m
        if out_code == 1:  # softmax, for cross-entropy or squared error
            for s in range(m):
                mx = z[0, s]
                for o in range(1, c):
                    mx = max(mx, z[o, s])
                se = 0.0
                for o in range(c):
                    e = math.exp(z[o, s] - mx)
                    d[o, s] = e
                    se += e
                if loss_code == 1:
                    total += math.log(se) + mx
                    for o in range(c):
                        total -= y[o, s] * z[o, s]
                        d[o, s] = (d[o, s] / se - y[o, s]) * inv_m
                else:
                    dot = 0.0
                    for o in range(c):
                        p = d[o, s] / se
                        g = (p - y[o, s]) * inv_m
                        total += 0.5 * (p - y[o, s]) ** 2
                        d[o, s] = p
                        dot += g * p
                    for o in range(c):
                        p = d[o, s]
                        d[o, s] = p * ((p - y[o, s]) * inv_m - dot)
            return total * inv_m
        # squared error with a sigmoid or identity output
        for o in range(c):
            for s in range(m):
                p = _sigmoid(z[o, s]) if out_code == 0 else z[o, s]
                r = p - y[o, s]
                total += 0.5 * r * r
                g = r * inv_m
                d[o, s] = g * p * (1.0 - p) if out_code == 0 else g
        return total * inv_m

    @_jit
    def _network_step(
        th,
        g,
        x,
        y,
        sizes,
        w_off,
        b_off,
        act,
        act_p,
        out_code,
        loss_code,
        alpha,
        lr,
        Z,
        A,
        D,
        ebuf,
        buf,
        zero,
    ):
        """Loss and gradient of one network (g), then theta -= lr g if lr > 0 and finite.

        Every loop over samples does four units' or four inputs' work per pass, so that a
        sample's row is loaded once for four multiply-adds; layers whose size is not a multiple
        of four are padded with zero rows (the scratch space has them) and zero weights, which
        add exact zeros.
        """
        L = sizes.shape[0] - 1
        m = Z.shape[2]
        # forward: Z[l] = W[l] a[l-1] + b[l], A[l] = phi(Z[l]) for hidden layers
        for l in range(L):
            n_in, n_out, wo, bo = sizes[l], sizes[l + 1], w_off[l], b_off[l]
            prev = x if l == 0 else A[l - 1]
            for o in range(n_out):
                zo = Z[l, o]
                row = wo + o * n_in
                for i in range(0, n_in, 4):
                    w0 = th[row + i]
                    w1 = th[row + i + 1] if i + 1 < n_in else zero
                    w2 = th[row + i + 2] if i + 2 < n_in else zero
                    w3 = th[row + i + 3] if i + 3 < n_in else zero
                    p0 = prev[i]
                    p1 = prev[i + 1]
                    p2 = prev[i + 2]
                    p3 = prev[i + 3]
                    if i == 0:
                        bias = th[bo + o]
                        for s in range(m):
                            zo[s] = bias + (w0 * p0[s] + w1 * p1[s] + w2 * p2[s] + w3 * p3[s])
                    else:
                        for s in range(m):
                            zo[s] += w0 * p0[s] + w1 * p1[s] + w2 * p2[s] + w3 * p3[s]
                if l < L - 1:
                    _activate(act, act_p, zo, A[l, o], m, ebuf, buf)
        # the loss and the last layer's error
        cur = 0
        loss = _output_and_loss(out_code, loss_code, Z[L - 1], y, D[cur], sizes[L], m, ebuf, buf)
        # backward: dW = delta a^T, db = sum delta, delta_prev = (W^T delta) * phi'(z_prev)
        for l in range(L - 1, -1, -1):
            n_in, n_out, wo, bo = sizes[l], sizes[l + 1], w_off[l], b_off[l]
            prev = x if l == 0 else A[l - 1]
            delta = D[cur]
            for o in range(n_out):
                do = delta[o]
                row = wo + o * n_in
                for i in range(0, n_in, 4):
                    p0 = prev[i]
                    p1 = prev[i + 1]
                    p2 = prev[i + 2]
                    p3 = prev[i + 3]
                    a0, a1, a2, a3, ab = zero, zero, zero, zero, zero
                    if i == 0:  # the bias gradient in the same pass
                        for s in range(m):
                            v = do[s]
                            ab += v
                            a0 += v * p0[s]
                            a1 += v * p1[s]
                            a2 += v * p2[s]
                            a3 += v * p3[s]
                        g[bo + o] = ab
                    else:
                        for s in range(m):
                            v = do[s]
                            a0 += v * p0[s]
                            a1 += v * p1[s]
                            a2 += v * p2[s]
                            a3 += v * p3[s]
                    g[row + i] = a0
                    if i + 1 < n_in:
                        g[row + i + 1] = a1
                    if i + 2 < n_in:
                        g[row + i + 2] = a2
                    if i + 3 < n_in:
                        g[row + i + 3] = a3
            if l > 0:
                back = D[1 - cur]
                for i in range(n_in):
                    bi = back[i]
                    for o in range(0, n_out, 4):
                        w0 = th[wo + o * n_in + i]
                        w1 = th[wo + (o + 1) * n_in + i] if o + 1 < n_out else zero
                        w2 = th[wo + (o + 2) * n_in + i] if o + 2 < n_out else zero
                        w3 = th[wo + (o + 3) * n_in + i] if o + 3 < n_out else zero
                        d0 = delta[o]
                        d1 = delta[o + 1]
                        d2 = delta[o + 2]
                        d3 = delta[o + 3]
                        if o == 0:
                            for s in range(m):
                                bi[s] = w0 * d0[s] + w1 * d1[s] + w2 * d2[s] + w3 * d3[s]
                        else:
                            for s in range(m):
                                bi[s] += w0 * d0[s] + w1 * d1[s] + w2 * d2[s] + w3 * d3[s]
                    _times_derivative(act, act_p, Z[l - 1, i], A[l - 1, i], bi, m)
                cur = 1 - cur
        n_w = b_off[0]
        if alpha > 0:  # L2 on the weights: alpha / (2 m) ||W||^2
            sq = zero
            for p in range(n_w):
                sq += th[p] * th[p]
                g[p] += (alpha / m) * th[p]
            loss += alpha / (2 * m) * sq
        finite = _finite(loss, g)
        if lr > 0 and finite:
            for p in range(g.shape[0]):
                th[p] -= lr * g[p]
        return loss, finite

    @njit(fastmath=_FASTMATH, cache=True, nogil=True, parallel=True)
    def _step(
        theta,
        grad,
        loss,
        finite,
        active,
        X,
        Y,
        sizes,
        w_off,
        b_off,
        act,
        act_p,
        out_code,
        loss_code,
        alpha,
        lr,
        n_slices,
        zero,
    ):
        K = theta.shape[0]
        L = sizes.shape[0] - 1
        m = X.shape[2]
        width = 1
        for l in range(1, L + 1):
            width = max(width, sizes[l])
        width = (width + 3) // 4 * 4
        n_x = (sizes[0] + 3) // 4 * 4
        for j in prange(n_slices):
            # Each slice of the stack has its own scratch space: activations stay in cache.
            # Rows past a layer's units stay zero: the padding to groups of four.
            Z = np.empty((L, width, m), theta.dtype)
            A = np.zeros((max(L - 1, 1), width, m), theta.dtype)
            D = np.zeros((2, width, m), theta.dtype)
            x = np.zeros((n_x, m), theta.dtype)
            ebuf = np.empty(m, np.float64)
            buf = np.empty(m, np.int64)
            if X.shape[0] == 1:
                x[: X.shape[1]] = X[0]
            for k in range(j * K // n_slices, (j + 1) * K // n_slices):
                if not active[k]:
                    continue
                if X.shape[0] > 1:
                    x[: X.shape[1]] = X[k]
                y = Y[k if Y.shape[0] > 1 else 0]
                value, ok = _network_step(
                    theta[k],
                    grad[k],
                    x,
                    y,
                    sizes,
                    w_off,
                    b_off,
                    act,
                    act_p,
                    out_code,
                    loss_code,
                    alpha,
                    lr,
                    Z,
                    A,
                    D,
                    ebuf,
                    buf,
                    zero,
                )
                loss[k] = value
                finite[k] = ok


def step(
    theta: np.ndarray,
    grad: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    layout: tuple[np.ndarray, np.ndarray, np.ndarray],
    activation: tuple[int, float],
    output: int,
    loss: int,
    *,
    active: np.ndarray,
    alpha: float = 0.0,
    learning_rate: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """One gradient step of the active networks of a stack.

    Parameters
    ----------
    theta, grad : ndarray, shape (K, P), C-contiguous, float32 or float64
        Parameters (updated in place when ``learning_rate > 0``) and the gradient (written).
    X, Y : ndarray, shape (1 or K, n_features, m) and (1 or K, c, m), theta's dtype, C-contiguous
    layout : (sizes, weight offsets, bias offsets), int64 arrays
    activation : (code, parameter)
    output, loss : int
        Codes from :data:`OUTPUT_CODES` and :data:`LOSS_CODES`.
    active : ndarray of bool, shape (K,)
        Networks to compute; the others are left as they are.
    alpha : float
        L2 penalty, as in ``engine.train``.
    learning_rate : float
        If > 0, apply theta -= learning_rate * grad to each network whose loss and gradient are
        finite (a network that is not finite keeps its parameters).

    Returns
    -------
    loss : ndarray, shape (K,)
        NaN for networks not computed.
    finite : ndarray of bool, shape (K,)
        Whether the loss and gradient are finite (True for networks not computed).
    """
    K = theta.shape[0]
    values = np.full(K, np.nan)
    finite = np.ones(K, dtype=bool)
    sizes, w_off, b_off = layout
    n_slices = min(K, 4 * n_threads())
    _step(
        theta,
        grad,
        values,
        finite,
        active,
        X,
        Y,
        sizes,
        w_off,
        b_off,
        activation[0],
        float(activation[1]),
        output,
        loss,
        float(alpha),
        float(learning_rate),
        n_slices,
        theta.dtype.type(0),
    )
    return values, finite


def layout(layer_sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sizes and the offsets of each layer's weights and biases in a flat parameter row."""
    sizes = np.asarray(layer_sizes, dtype=np.int64)
    n_w = sizes[1:] * sizes[:-1]
    w_off = np.concatenate([[0], np.cumsum(n_w)[:-1]]).astype(np.int64)
    b_off = (n_w.sum() + np.concatenate([[0], np.cumsum(sizes[1:])[:-1]])).astype(np.int64)
    return sizes, w_off, b_off
