"""The engine's compiled training kernel (Numba): gradient descent for a stack of small networks.

:func:`run` trains every active network of a stack for a number of full-batch iterations, or
computes one gradient (:func:`step`, for the engine's other solvers and mini-batches). The
networks are shared out over the cores (``numba.prange``, in chunks taken as threads come free);
each network is trained by one thread from its first iteration to its last with the same
sequence of operations, so its numbers do not depend on the stack around it, on the number of
threads or on how the stack was shared out: a network gives the same bits alone or in a stack
of 1000.

Sample blocks. The samples are cut into blocks of ``B`` (32 for float64, 64 for float32: one
:class:`initlab._simd.Vec`, four AVX-512 registers), and each block is carried through every
layer, forward and backward, in vectors: a layer's weight times a block's row is one vector
multiply-add, a group of four units is accumulated in registers, and the block's activations
and errors stay in the core's first-level cache. The gradient is accumulated over the blocks in
vectors of ``B / 4`` partial sums per parameter and summed once at the end of the pass, so an
iteration makes one pass over the data instead of one per layer and operation. The last block
is padded by repeating the last sample; its padded lanes are given no error and no loss, so they
add exact zeros. The activations, the output functions and the losses are the engine's
(:mod:`initlab.activations`, :mod:`initlab.losses`), with exp, expm1, log1p and log written as
polynomials on vectors (accurate to a few ulp, tested against libm); GELU, whose erf has no such
form here, runs lane by lane through libm.

Rounding. Every operation is IEEE arithmetic without fast-math flags (multiply-adds are explicit
fused ones), so results agree with the NumPy path to rounding, not bit for bit (sums are taken in
another order), and equal units stay equal bit for bit: each unit of a layer is computed by the
same instructions on the same lanes. Divergence is detected as the NumPy path does (a loss or
gradient that is not finite), at the same iteration. The NumPy path stays the reference (it
reproduces the course's runs operation for operation); ``engine.train(backend=...)`` chooses.

Layout: the parameters of network k live in ``theta[k]``: the weights of layer 0 (out, in)
row-major, then those of layer 1, ..., then the biases of layer 0, 1, ... (``engine._views``).
Inputs and targets arrive feature-major, (Kx, n, m) with Kx = 1 (shared by the stack) or K, and
are packed into blocks by :func:`pack`.

Compilation. The kernel compiles once per dtype (about 10-30 s) and Numba caches the machine
code: next to this file when the install is writable, else in ``NUMBA_CACHE_DIR`` or the user's
cache directory; without any writable place it still runs, compiling in each new process. The
first use in a process that has to compile says so through the ``initlab`` logger (warning
level, so it shows on stderr unless logging is configured otherwise), with the time it took.
The cache is keyed on this file: ``_SIMD_STAMP`` ties it to the vector layer it uses.
"""

from __future__ import annotations

import logging
import math
import threading
import time

import numpy as np

try:  # Numba is a dependency; without it (an unsupported platform) the NumPy path runs alone.
    import numba
    from numba import njit, prange

    from ._simd import (
        address,
        keep_alive,
        lanes,
        vabs,
        vadd,
        vbcast,
        vdiv,
        vfill,
        vfloor,
        vfma,
        vload,
        vload_q,
        vmask_lanes,
        vmul,
        vpick,
        vpow2,
        vq0,
        vq1,
        vq2,
        vq3,
        vsel_eq,
        vsel_ge,
        vsel_gt,
        vsel_lt,
        vsplit_exponent,
        vstore,
        vsub,
        vsum,
        vzeros,
        vzeros_q,
    )

    AVAILABLE = True
except ImportError:  # pragma: no cover - exercised only where numba cannot be installed
    AVAILABLE = False

__all__ = [
    "ACTIVATION_CODES",
    "AVAILABLE",
    "LOSS_CODES",
    "OUTPUT_CODES",
    "activation_code",
    "bias_activate",
    "block_size",
    "ensure_compiled",
    "layout",
    "n_threads",
    "pack",
    "run",
    "step",
    "times_derivative",
]

_log = logging.getLogger("initlab")

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
# Activations whose derivative needs the pre-activation z; the others take it from a = phi(z)
# (ReLU: a > 0 exactly where z > 0), so their z is never stored.
NEEDS_Z = (2, 5, 6, 7, 8, 9)

OUTPUT_CODES = {"sigmoid": 0, "softmax": 1, "identity": 2}
LOSS_CODES = {"binary_cross_entropy": 0, "cross_entropy": 1, "squared_error": 2}

# sha256 of _simd.py (its first 16 hex digits), checked by the tests: editing the vector layer
# must edit this file too, or Numba's cache (keyed on this file) would keep the old machine code.
_SIMD_STAMP = "67153d06d4d73eaa"

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
# ln 2 in two parts (Cody and Waite) so that n ln2_hi is exact for the exponents of each type.
_LN2_HI64, _LN2_LO64 = 0.6931471803691238, 1.9082149292705877e-10
_LN2_HI32, _LN2_LO32 = 0.693359375, -2.1219444005469057e-4

_CHUNK = 4  # networks a thread takes at a time: balance when some stop early (divergence)
_NOTICE_AFTER = 2.0  # seconds of compiling (or loading) before it is announced


def activation_code(act) -> tuple[int, float]:
    """The kernel's (code, parameter) for an :class:`initlab.activations.Activation`."""
    return ACTIVATION_CODES[act.name], float(act.params.get(ACTIVATION_PARAM.get(act.name, ""), 0))


def n_threads() -> int:
    """Threads the kernel runs on (Numba's; ``NUMBA_NUM_THREADS`` sets it)."""
    return numba.get_num_threads() if AVAILABLE else 1


def block_size(dtype) -> int:
    """Samples per block for a dtype: one vector of 256 bytes (``_simd.LANES``)."""
    return 256 // np.dtype(dtype).itemsize


def layout(layer_sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sizes and the offsets of each layer's weights and biases in a flat parameter row."""
    sizes = np.asarray(layer_sizes, dtype=np.int64)
    n_w = sizes[1:] * sizes[:-1]
    w_off = np.concatenate([[0], np.cumsum(n_w)[:-1]]).astype(np.int64)
    b_off = (n_w.sum() + np.concatenate([[0], np.cumsum(sizes[1:])[:-1]])).astype(np.int64)
    return sizes, w_off, b_off


def pack(A: np.ndarray, dtype) -> tuple[np.ndarray, int]:
    """Feature-major data (Kx, n, m) as blocks (Kx, n_blocks, n, B), and the last block's size.

    The last block is filled up by repeating the last sample: the padded lanes compute what a
    real sample computes (finite where it is finite) and the kernel gives them no weight.
    """
    B = block_size(dtype)
    Kx, n, m = A.shape
    n_blocks = -(-m // B)
    padded = np.empty((Kx, n, n_blocks * B), dtype)
    padded[:, :, :m] = A
    padded[:, :, m:] = A[:, :, m - 1 : m]
    blocks = padded.reshape(Kx, n, n_blocks, B).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(blocks), m - (n_blocks - 1) * B


def _jit_options():
    """Numba options for the kernel; caching where the install or a cache directory is writable."""
    # error_model="numpy": a division by zero gives inf or NaN (an outcome the engine reports as
    # divergence), never an exception, and costs no test per lane.
    return {"nogil": True, "error_model": "numpy"}


if AVAILABLE:
    _opts = _jit_options()
    _inline = njit(inline="always", **_opts)
    _helper = njit(**_opts)

    def _cached(**extra):
        """njit with caching; a read-only install without a writable cache dir compiles per
        process instead of failing to import."""

        def decorate(fn):
            try:
                return njit(cache=True, **_opts, **extra)(fn)
            except RuntimeError:  # Numba: "cannot cache function ...: no locator available"
                return njit(**_opts, **extra)(fn)

        return decorate

    # --- vector math ---------------------------------------------------------------------------

    @_inline
    def _exp_split(t):
        """(s, p, keep) with exp(t) = s (1 + p) for t <= 0: s = 2^n, n = round(t / ln 2), and
        p = expm1(r) for |r| <= ln(2)/2 from its Taylor polynomial of degree 13 (truncation
        below 1e-17). Below the normal range of 2^n (float64 -708, float32 -87), where exp is
        subnormal or zero, keep is 0 (exp is taken as 0, an error below 3e-308, resp. 2e-38)."""
        lo = vpick(t, -708.0, -87.0)
        keep = vsel_lt(t, lo, 0.0, 1.0)
        t = vsel_lt(t, lo, lo, t)
        n = vfloor(vfma(t, _LOG2E, 0.5))
        r = vfma(n, vpick(t, -_LN2_HI64, -_LN2_HI32), t)
        r = vfma(n, vpick(t, -_LN2_LO64, -_LN2_LO32), r)
        q = vfill(t, 1.0 / 6227020800.0)
        q = vfma(q, r, 1.0 / 479001600.0)
        q = vfma(q, r, 1.0 / 39916800.0)
        q = vfma(q, r, 1.0 / 3628800.0)
        q = vfma(q, r, 1.0 / 362880.0)
        q = vfma(q, r, 1.0 / 40320.0)
        q = vfma(q, r, 1.0 / 5040.0)
        q = vfma(q, r, 1.0 / 720.0)
        q = vfma(q, r, 1.0 / 120.0)
        q = vfma(q, r, 1.0 / 24.0)
        q = vfma(q, r, 1.0 / 6.0)
        q = vfma(q, r, 0.5)
        q = vfma(q, r, 1.0)
        return vpow2(n), vmul(q, r), keep

    @_inline
    def _exp_neg(t):
        """exp(t) for t <= 0 (vector), to an ulp."""
        s, p, keep = _exp_split(t)
        return vmul(vfma(s, p, s), keep)

    @_inline
    def _expm1_neg(t):
        """expm1(t) for t <= 0, to a few ulp: 2^n expm1(r) + (2^n - 1) (Tang's form: no
        cancellation near 0, where n = 0)."""
        s, p, _ = _exp_split(t)
        return vfma(s, p, vsub(s, 1.0))

    @_inline
    def _atanh2(t):
        """2 atanh(t) = log((1 + t) / (1 - t)) for |t| <= 0.1716 (3 - 2 sqrt 2): the odd series
        to t^21 (truncation below 1e-18 relative)."""
        t2 = vmul(t, t)
        q = vfill(t, 1.0 / 21.0)
        q = vfma(q, t2, 1.0 / 19.0)
        q = vfma(q, t2, 1.0 / 17.0)
        q = vfma(q, t2, 1.0 / 15.0)
        q = vfma(q, t2, 1.0 / 13.0)
        q = vfma(q, t2, 1.0 / 11.0)
        q = vfma(q, t2, 1.0 / 9.0)
        q = vfma(q, t2, 1.0 / 7.0)
        q = vfma(q, t2, 1.0 / 5.0)
        q = vfma(q, t2, 1.0 / 3.0)
        q = vfma(q, t2, 1.0)
        return vmul(vmul(t, q), 2.0)

    @_inline
    def _log1p_split(e):
        """(k, num, den) with log(1 + e) = k ln 2 + 2 atanh(num / den), |num / den| <= 0.1716,
        for 0 <= e <= 1: 1 + e = 2^k f with f in [sqrt(1/2), sqrt(2)], t = (f - 1) / (f + 1)."""
        k = vsel_gt(e, _SQRT2 - 1.0, 1.0, 0.0)
        num = vsub(e, k)  # e - 1 or e
        den = vadd(vfma(k, 1.0, e), 2.0)  # e + 3 or e + 2
        return k, num, den

    @_inline
    def _log1p_unit(e):
        """log(1 + e) for 0 <= e <= 1."""
        k, num, den = _log1p_split(e)
        return vfma(k, _LN2, _atanh2(vdiv(num, den)))

    @_inline
    def _log_ge1(x):
        """log(x) for x >= 1: x = 2^k f with f in [sqrt(1/2), sqrt(2)), log x = k ln 2 + log f."""
        k, f = vsplit_exponent(x)
        big = vsel_gt(f, _SQRT2, 1.0, 0.0)
        k = vadd(k, big)
        f = vmul(f, vsub(1.0, vmul(big, 0.5)))
        lf = _atanh2(vdiv(vsub(f, 1.0), vadd(f, 1.0)))
        return vfma(k, vpick(x, _LN2_HI64, _LN2_HI32), vfma(k, vpick(x, _LN2_LO64, _LN2_LO32), lf))

    @_inline
    def _tanh(z):
        """tanh(z) = sign(z) (-u) / (2 + u) with u = expm1(-2|z|), to a few ulp."""
        u = _expm1_neg(vmul(vabs(z), -2.0))
        r = vdiv(vmul(u, -1.0), vadd(u, 2.0))
        return vsel_ge(z, 0.0, r, vmul(r, -1.0))

    @_inline
    def _sigmoid(z):
        """1 / (1 + exp(-z)) as (1 or e) / (1 + e) with e = exp(-|z|): no overflow."""
        e = _exp_neg(vmul(vabs(z), -1.0))
        return vdiv(vsel_ge(z, 0.0, 1.0, e), vadd(e, 1.0))

    @_inline
    def _relu(z):
        """max(z, 0) as np.maximum(z, 0) gives it (NaN and -0 kept): z < 0 ? 0 : z, which is
        x86's max instruction exactly."""
        return vsel_lt(z, 0.0, 0.0, z)

    @_helper
    def _gelu_lanes(z, T):
        """GELU lane by lane through libm's erfc (T: scratch of a vector's length)."""
        vstore(T, 0, z)
        for s in range(lanes(T)):
            x = T[s]
            T[s] = x * (0.5 * math.erfc(-x / _SQRT2))  # z Phi(z), no cancellation for z < 0
        return vload(T, 0)

    @_helper
    def _gelu_derivative_lanes(z, d, T):
        vstore(T, 0, z)
        for s in range(lanes(T)):
            x = T[s]
            T[s] = 0.5 * math.erfc(-x / _SQRT2) + x * math.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return vmul(d, vload(T, 0))

    @_inline
    def _activate(code, p, z, T):
        """phi(z) for a vector of pre-activations (NaN stays NaN, as in NumPy)."""
        if code == 1:
            return _relu(z)
        if code == 2:
            return vsel_gt(z, 0.0, z, vmul(z, p))
        if code == 3:
            return _tanh(z)
        if code == 4:
            return _sigmoid(z)
        if code == 5 or code == 6:
            # expm1 on min(z, 0), NaN kept: the branch for z > 0 is z itself
            em = _expm1_neg(vsel_gt(z, 0.0, 0.0, z))
            if code == 5:
                return vsel_gt(z, 0.0, z, vmul(em, p))
            return vmul(vsel_gt(z, 0.0, z, vmul(em, _SELU_ALPHA)), _SELU_SCALE)
        if code == 7:
            return _gelu_lanes(z, T)
        if code == 8:
            return vmul(z, _sigmoid(z))
        if code == 9:
            e = _exp_neg(vmul(vabs(z), -1.0))
            return vadd(vsel_gt(z, 0.0, z, 0.0), _log1p_unit(e))
        return z

    @_inline
    def _times_derivative(code, p, z, a, d, T):
        """d * phi'(z), given a = phi(z); for codes not in NEEDS_Z, z may be anything."""
        if code == 1:
            return vsel_gt(a, 0.0, d, 0.0)
        if code == 2:
            return vsel_gt(z, 0.0, d, vmul(d, p))
        if code == 3:
            return vmul(d, vsub(1.0, vmul(a, a)))
        if code == 4:
            return vmul(d, vmul(a, vsub(1.0, a)))
        if code == 5:
            return vsel_gt(z, 0.0, d, vmul(d, vadd(a, p)))
        if code == 6:
            return vmul(d, vsel_gt(z, 0.0, _SELU_SCALE, vadd(a, _SELU_SCALE * _SELU_ALPHA)))
        if code == 7:
            return _gelu_derivative_lanes(z, d, T)
        if code == 8:
            s = _sigmoid(z)
            return vmul(d, vmul(s, vfma(z, vsub(1.0, s), 1.0)))
        if code == 9:
            return vmul(d, _sigmoid(z))
        return d

    # --- one layer of one block ----------------------------------------------------------------
    #
    # Offsets are flat element offsets; a unit's row of a block is B consecutive numbers, the
    # rows of a layer follow each other. Units go by groups of four (their sums in registers,
    # the input row loaded once for four multiply-adds), then two, then one.

    @_inline
    def _forward(th, wo, bo, n_in, n_out, src, so, A, ao, Z, zo, code, p, keep_z, B, T):
        """Rows ao.. of A = phi(W src + b) for the block (code -1: the logits, no phi); keep_z
        also writes z to Z."""
        fast = code == -1 or code == 0 or code == 1
        o = 0
        while o < n_out:
            r = wo + o * n_in
            q = ao + o * B
            if o + 4 <= n_out:
                a0 = vbcast(th[bo + o])
                a1 = vbcast(th[bo + o + 1])
                a2 = vbcast(th[bo + o + 2])
                a3 = vbcast(th[bo + o + 3])
                for i in range(n_in):
                    x = vload(src, so + i * B)
                    a0 = vfma(x, th[r + i], a0)
                    a1 = vfma(x, th[r + n_in + i], a1)
                    a2 = vfma(x, th[r + 2 * n_in + i], a2)
                    a3 = vfma(x, th[r + 3 * n_in + i], a3)
                if code == 1:
                    a0 = _relu(a0)
                    a1 = _relu(a1)
                    a2 = _relu(a2)
                    a3 = _relu(a3)
                vstore(A, q, a0)
                vstore(A, q + B, a1)
                vstore(A, q + 2 * B, a2)
                vstore(A, q + 3 * B, a3)
                k = 4
            elif o + 2 <= n_out:
                a0 = vbcast(th[bo + o])
                a1 = vbcast(th[bo + o + 1])
                for i in range(n_in):
                    x = vload(src, so + i * B)
                    a0 = vfma(x, th[r + i], a0)
                    a1 = vfma(x, th[r + n_in + i], a1)
                if code == 1:
                    a0 = _relu(a0)
                    a1 = _relu(a1)
                vstore(A, q, a0)
                vstore(A, q + B, a1)
                k = 2
            else:
                a0 = vbcast(th[bo + o])
                for i in range(n_in):
                    a0 = vfma(vload(src, so + i * B), th[r + i], a0)
                if code == 1:
                    a0 = _relu(a0)
                vstore(A, q, a0)
                k = 1
            if not fast:  # the other activations: a second pass over the group's rows
                for u in range(o, o + k):
                    z = vload(A, ao + u * B)
                    if keep_z:
                        vstore(Z, zo + u * B, z)
                    vstore(A, ao + u * B, _activate(code, p, z, T))
            o += k

    @_inline
    def _backward(th, wo, n_in, n_out, D, do, dn, A, ao, Z, zo, code, p, B, T):
        """Rows dn.. of D = (W^T delta) * phi'(z) for the layer below, delta at rows do.."""
        i = 0
        while i < n_in:
            q = dn + i * B
            if i + 4 <= n_in:
                a0 = vzeros(A)
                a1 = a0
                a2 = a0
                a3 = a0
                for o in range(n_out):
                    d = vload(D, do + o * B)
                    r = wo + o * n_in + i
                    a0 = vfma(d, th[r], a0)
                    a1 = vfma(d, th[r + 1], a1)
                    a2 = vfma(d, th[r + 2], a2)
                    a3 = vfma(d, th[r + 3], a3)
                if code == 1:
                    x = ao + i * B
                    a0 = vsel_gt(vload(A, x), 0.0, a0, 0.0)
                    a1 = vsel_gt(vload(A, x + B), 0.0, a1, 0.0)
                    a2 = vsel_gt(vload(A, x + 2 * B), 0.0, a2, 0.0)
                    a3 = vsel_gt(vload(A, x + 3 * B), 0.0, a3, 0.0)
                vstore(D, q, a0)
                vstore(D, q + B, a1)
                vstore(D, q + 2 * B, a2)
                vstore(D, q + 3 * B, a3)
                k = 4
            elif i + 2 <= n_in:
                a0 = vzeros(A)
                a1 = a0
                for o in range(n_out):
                    d = vload(D, do + o * B)
                    r = wo + o * n_in + i
                    a0 = vfma(d, th[r], a0)
                    a1 = vfma(d, th[r + 1], a1)
                if code == 1:
                    x = ao + i * B
                    a0 = vsel_gt(vload(A, x), 0.0, a0, 0.0)
                    a1 = vsel_gt(vload(A, x + B), 0.0, a1, 0.0)
                vstore(D, q, a0)
                vstore(D, q + B, a1)
                k = 2
            else:
                a0 = vzeros(A)
                for o in range(n_out):
                    a0 = vfma(vload(D, do + o * B), th[wo + o * n_in + i], a0)
                if code == 1:
                    a0 = vsel_gt(vload(A, ao + i * B), 0.0, a0, 0.0)
                vstore(D, q, a0)
                k = 1
            if code != 0 and code != 1:
                for u in range(i, i + k):
                    x = ao + u * B
                    z = vload(Z, zo + u * B)
                    d = _times_derivative(code, p, z, vload(A, x), vload(D, dn + u * B), T)
                    vstore(D, dn + u * B, d)
            i += k

    @_inline
    def _accumulate(G, g, d, x, first):
        """G[g : g + B/4] += the four quarters of d * x (partial sums of the weight gradient);
        the first block writes them."""
        acc = vzeros_q(G) if first else vload_q(G, g)
        acc = vfma(vq0(d), vq0(x), acc)
        acc = vfma(vq1(d), vq1(x), acc)
        acc = vfma(vq2(d), vq2(x), acc)
        acc = vfma(vq3(d), vq3(x), acc)
        vstore(G, g, acc)

    @_inline
    def _accumulate_bias(G, g, d, first):
        acc = vzeros_q(G) if first else vload_q(G, g)
        vstore(G, g, vadd(acc, vadd(vadd(vq0(d), vq1(d)), vadd(vq2(d), vq3(d)))))

    @_inline
    def _gradient(G, wo, bo, n_in, n_out, D, do, src, so, B, first):
        """G += the block's dW = delta x^T and db = sum of delta, as partial sums."""
        Q = B // 4
        o = 0
        while o < n_out:
            r = (wo + o * n_in) * Q
            if o + 4 <= n_out:
                d0 = vload(D, do + o * B)
                d1 = vload(D, do + (o + 1) * B)
                d2 = vload(D, do + (o + 2) * B)
                d3 = vload(D, do + (o + 3) * B)
                g = (bo + o) * Q
                _accumulate_bias(G, g, d0, first)
                _accumulate_bias(G, g + Q, d1, first)
                _accumulate_bias(G, g + 2 * Q, d2, first)
                _accumulate_bias(G, g + 3 * Q, d3, first)
                step = n_in * Q
                for i in range(n_in):
                    x = vload(src, so + i * B)
                    q = r + i * Q
                    _accumulate(G, q, d0, x, first)
                    _accumulate(G, q + step, d1, x, first)
                    _accumulate(G, q + 2 * step, d2, x, first)
                    _accumulate(G, q + 3 * step, d3, x, first)
                o += 4
            elif o + 2 <= n_out:
                d0 = vload(D, do + o * B)
                d1 = vload(D, do + (o + 1) * B)
                g = (bo + o) * Q
                _accumulate_bias(G, g, d0, first)
                _accumulate_bias(G, g + Q, d1, first)
                step = n_in * Q
                for i in range(n_in):
                    x = vload(src, so + i * B)
                    _accumulate(G, r + i * Q, d0, x, first)
                    _accumulate(G, r + i * Q + step, d1, x, first)
                o += 2
            else:
                d0 = vload(D, do + o * B)
                _accumulate_bias(G, (bo + o) * Q, d0, first)
                for i in range(n_in):
                    _accumulate(G, r + i * Q, d0, vload(src, so + i * B), first)
                o += 1

    # --- the output layer: loss, error and predictions -----------------------------------------

    @_helper
    def _output(out_code, loss_code, A, zo, Y, yo, D, c, inv_m, nv, lacc, B):
        """The last layer's error dL/dz into D rows 0..c-1 and the block's loss terms added to
        lacc (quarter partial sums); the padding lanes get neither."""
        if loss_code == 0:  # sigmoid + binary cross-entropy: softplus(z) - y z, error p - y
            for o in range(c):
                z = vload(A, zo + o * B)
                y = vload(Y, yo + o * B)
                e = _exp_neg(vmul(vabs(z), -1.0))
                u = vadd(e, 1.0)
                k, num, den = _log1p_split(e)
                # One division for both 1 / (1 + e) (the sigmoid) and num / den (log1p's t).
                inv = vdiv(1.0, vmul(u, den))
                prob = vmul(vsel_ge(z, 0.0, 1.0, e), vmul(inv, den))
                log1p = vfma(k, _LN2, _atanh2(vmul(num, vmul(inv, u))))
                term = vadd(vsub(vsel_gt(z, 0.0, z, 0.0), vmul(y, z)), log1p)
                vstore(D, o * B, vmask_lanes(vmul(vsub(prob, y), inv_m), nv))
                lacc = _fold_add(lacc, vmask_lanes(term, nv))
            return lacc
        if out_code == 1:  # softmax, for cross-entropy or squared error
            mx = vload(A, zo)
            for o in range(1, c):
                z = vload(A, zo + o * B)
                mx = vsel_gt(z, mx, z, mx)
            se = vzeros(A)
            for o in range(c):
                e = _exp_neg(vsub(vload(A, zo + o * B), mx))
                vstore(D, o * B, e)
                se = vadd(se, e)
            if loss_code == 1:
                term = vadd(_log_ge1(se), mx)
                for o in range(c):
                    y = vload(Y, yo + o * B)
                    term = vsub(term, vmul(y, vload(A, zo + o * B)))
                    prob = vdiv(vload(D, o * B), se)
                    vstore(D, o * B, vmask_lanes(vmul(vsub(prob, y), inv_m), nv))
                return _fold_add(lacc, vmask_lanes(term, nv))
            # squared error through the softmax: d_o = p_o (g_o - sum_j g_j p_j)
            term = vzeros(A)
            dot = vzeros(A)
            for o in range(c):
                y = vload(Y, yo + o * B)
                prob = vdiv(vload(D, o * B), se)
                r = vsub(prob, y)
                term = vfma(vmul(r, r), 0.5, term)
                dot = vfma(vmul(r, inv_m), prob, dot)
                vstore(D, o * B, prob)
            for o in range(c):
                prob = vload(D, o * B)
                y = vload(Y, yo + o * B)
                d = vmul(prob, vsub(vmul(vsub(prob, y), inv_m), dot))
                vstore(D, o * B, vmask_lanes(d, nv))
            return _fold_add(lacc, vmask_lanes(term, nv))
        # squared error with a sigmoid or identity output
        term = vzeros(A)
        for o in range(c):
            z = vload(A, zo + o * B)
            y = vload(Y, yo + o * B)
            prob = _sigmoid(z) if out_code == 0 else z
            r = vsub(prob, y)
            term = vfma(vmul(r, r), 0.5, term)
            d = vmul(r, inv_m)
            if out_code == 0:
                d = vmul(d, vmul(prob, vsub(1.0, prob)))
            vstore(D, o * B, vmask_lanes(d, nv))
        return _fold_add(lacc, vmask_lanes(term, nv))

    @_helper
    def _fold_add(acc, v):
        """acc (a quarter vector) + the sum of v's four quarters."""
        return vadd(acc, vadd(vadd(vq0(v), vq1(v)), vadd(vq2(v), vq3(v))))

    @_helper
    def _correct(out_code, A, zo, Y, yo, c, nv, cacc, B):
        """cacc + the block's correct predictions, predicting as MLPClassifier.predict does: one
        output, p > 0.5; several, the largest (the first of equal ones, as np.argmax)."""
        if c == 1:
            z = vload(A, zo)
            prob = _sigmoid(z) if out_code == 0 else z
            hit = vsel_eq(
                vsel_gt(prob, 0.5, 1.0, 0.0), vsel_gt(vload(Y, yo), 0.5, 1.0, 0.0), 1.0, 0.0
            )
        else:
            best = vload(A, zo)
            arg = vzeros(A)
            label_best = vload(Y, yo)
            label = vzeros(A)
            for o in range(1, c):
                z = vload(A, zo + o * B)
                arg = vsel_gt(z, best, float(o), arg)
                best = vsel_gt(z, best, z, best)
                y = vload(Y, yo + o * B)
                label = vsel_gt(y, label_best, float(o), label)
                label_best = vsel_gt(y, label_best, y, label_best)
            hit = vsel_eq(arg, label, 1.0, 0.0)
        return _fold_add(cacc, vmask_lanes(hit, nv))

    # --- one pass of one network over the data -------------------------------------------------

    @_helper
    def _pass(
        th,
        g,
        P,
        G,
        X,
        xo,
        Y,
        yo,
        n_blocks,
        nv_last,
        inv_m,
        L,
        sizes,
        w_off,
        b_off,
        act,
        act_p,
        out_code,
        loss_code,
        alpha,
        A,
        Z,
        D,
        T,
        W,
        grad,
        count,
    ):
        """The loss of theta (returned) and its gradient into g (if grad); the number of correct
        predictions (returned, if count). A, Z: (L, W, B) activations and pre-activations of the
        block; D: (2, W, B) errors; G: (P, B/4) partial sums; T: (B,) scratch. Every array comes
        as a pointer (see _simd.address); sizes, w_off, b_off have L + 1, L, L entries."""
        B = lanes(th)
        Q = B // 4
        n0 = sizes[0]
        c = sizes[L]
        keep_z = False
        for code in NEEDS_Z:
            keep_z = keep_z or act == code
        lacc = vzeros_q(A)
        cacc = vzeros_q(A)
        WB = W * B
        for blk in range(n_blocks):
            nv = B if blk < n_blocks - 1 else nv_last
            xb = xo + blk * n0 * B
            yb = yo + blk * c * B
            for l in range(L):
                code = act if l < L - 1 else -1
                src = X if l == 0 else A
                so = xb if l == 0 else (l - 1) * WB
                _forward(
                    th,
                    w_off[l],
                    b_off[l],
                    sizes[l],
                    sizes[l + 1],
                    src,
                    so,
                    A,
                    l * WB,
                    Z,
                    l * WB,
                    code,
                    act_p,
                    keep_z,
                    B,
                    T,
                )
            zo = (L - 1) * WB
            if count:
                cacc = _correct(out_code, A, zo, Y, yb, c, nv, cacc, B)
            if not grad:
                continue
            lacc = _output(out_code, loss_code, A, zo, Y, yb, D, c, inv_m, nv, lacc, B)
            cur = 0
            for l in range(L - 1, -1, -1):
                src = X if l == 0 else A
                so = xb if l == 0 else (l - 1) * WB
                _gradient(
                    G, w_off[l], b_off[l], sizes[l], sizes[l + 1], D, cur * WB, src, so, B, blk == 0
                )
                if l > 0:
                    _backward(
                        th,
                        w_off[l],
                        sizes[l],
                        sizes[l + 1],
                        D,
                        cur * WB,
                        (1 - cur) * WB,
                        A,
                        (l - 1) * WB,
                        Z,
                        (l - 1) * WB,
                        act,
                        act_p,
                        B,
                        T,
                    )
                    cur = 1 - cur
        correct = vsum(cacc)
        if not grad:
            return 0.0, correct
        for p in range(P):
            g[p] = vsum(vload_q(G, p * Q))
        loss = vsum(lacc) * inv_m
        if alpha > 0:  # L2 on the weights: alpha / (2 m) ||W||^2
            n_w = b_off[0]
            sq = 0.0
            for p in range(n_w):
                sq += th[p] * th[p]
                g[p] += (alpha * inv_m) * th[p]
            loss += alpha * 0.5 * inv_m * sq
        return loss, correct

    # Without fast-math flags anywhere, the test cannot be folded away.
    @_inline
    def _finite(loss, g, P):
        if not math.isfinite(loss):
            return False
        for p in range(P):
            if not math.isfinite(g[p]):
                return False
        return True

    @_cached(parallel=True)
    def _run(
        theta,
        last,
        grad,
        X,
        Y,
        nv_last,
        m,
        sizes,
        w_off,
        b_off,
        act,
        act_p,
        out_code,
        loss_code,
        alpha,
        lr,
        it0,
        n_iter,
        active,
        losses,
        diverged_at,
        acc_every,
        accuracy,
        final_accuracy,
        snap_every,
        snap_theta,
        snap_grad,
    ):
        K, P = theta.shape
        L = sizes.shape[0] - 1
        W = 1
        for l in range(1, L + 1):
            W = max(W, sizes[l])
        B = lanes(theta)
        n_blocks = X.shape[1]
        x_stride = X.shape[1] * X.shape[2] * X.shape[3]
        y_stride = Y.shape[1] * Y.shape[2] * Y.shape[3]
        inv_m = 1.0 / m
        want_final = final_accuracy.shape[0] > 0
        sz, wo, bo = address(sizes), address(w_off), address(b_off)
        for k in prange(K):
            if not (active[k] or want_final):
                continue
            A = np.zeros(L * W * B, theta.dtype)
            Z = np.zeros(L * W * B, theta.dtype)
            D = np.zeros(2 * W * B, theta.dtype)
            G = np.empty(P * B // 4, theta.dtype)
            T = np.empty(B, theta.dtype)
            g = address(grad[k])
            th = address(theta[k])
            kept = address(last[k])
            a, z, d, gq, tq = address(A), address(Z), address(D), address(G), address(T)
            xp, yp = address(X), address(Y)
            xo = k * x_stride if X.shape[0] > 1 else 0
            yo = k * y_stride if Y.shape[0] > 1 else 0
            # iterations, then (want_final) one forward pass on the final parameters
            stop = n_iter if active[k] else 0
            for it in range(stop + want_final):
                t = it0 + it
                train = it < stop
                check = not train or (acc_every > 0 and t % acc_every == 0)
                loss, correct = _pass(
                    th,
                    g,
                    P,
                    gq,
                    xp,
                    xo,
                    yp,
                    yo,
                    n_blocks,
                    nv_last,
                    inv_m,
                    L,
                    sz,
                    wo,
                    bo,
                    act,
                    act_p,
                    out_code,
                    loss_code,
                    alpha,
                    a,
                    z,
                    d,
                    tq,
                    W,
                    train,
                    check,
                )
                if not train:
                    final_accuracy[k] = correct / m
                    break
                losses[it, k] = loss
                if check:
                    accuracy[t // acc_every, k] = correct / m
                ok = _finite(loss, g, P)
                if not ok:  # back to the last parameters whose loss and gradient were finite
                    for p in range(P):
                        th[p] = kept[p]
                # the parameters the iteration leaves before its update, and its gradient
                if snap_every > 0 and t % snap_every == 0:
                    for p in range(P):
                        snap_theta[t // snap_every, k, p] = th[p]
                        snap_grad[t // snap_every, k, p] = g[p]
                if not ok:
                    diverged_at[k] = t
                    active[k] = False
                    stop = it + 1
                    if not want_final:
                        break
                    continue
                if lr > 0:
                    for p in range(P):
                        kept[p] = th[p]
                        th[p] -= lr * g[p]
            # The scratch arrays are reached through pointers only: keep them to the end.
            keep_alive(A)
            keep_alive(Z)
            keep_alive(D)
            keep_alive(G)
            keep_alive(T)

    # --- element-wise passes around BLAS products (wide layers) ---------------------------------

    @_cached()
    def _bias_activate(z, b, a, code, p, in_place):
        n, m = z.shape
        B = lanes(z)
        full = m - m % B
        for o in range(n):
            T = np.zeros(B, z.dtype)
            t = address(T)
            zr, ar = address(z[o]), address(a[o])
            bias = b[o]
            for s in range(0, full, B):
                v = vadd(vload(zr, s), bias)
                if code == 1:
                    vstore(ar, s, _relu(v))
                else:
                    if not in_place:
                        vstore(zr, s, v)
                    vstore(ar, s, _activate(code, p, v, t))
            if full < m:  # the row's tail, through a vector of scratch
                for s in range(full, m):
                    T[s - full] = z[o, s]
                v = vadd(vload(t, 0), bias)
                r = _activate(code, p, v, t)
                vstore(t, 0, v)
                for s in range(full, m):
                    z[o, s] = T[s - full]
                vstore(t, 0, r)
                for s in range(full, m):
                    a[o, s] = T[s - full]
            keep_alive(T)

    @_cached()
    def _times_derivative_rows(d, z, a, code, p, row_sums):
        n, m = d.shape
        B = lanes(d)
        full = m - m % B
        for o in range(n):
            T = np.zeros(B, d.dtype)
            t = address(T)
            dr, zr, ar = address(d[o]), address(z[o]), address(a[o])
            acc = vzeros(d)
            for s in range(0, full, B):
                x = vload(dr, s)
                if code == 1:
                    x = vsel_gt(vload(ar, s), 0.0, x, 0.0)
                elif code != 0:
                    x = _times_derivative(code, p, vload(zr, s), vload(ar, s), x, t)
                vstore(dr, s, x)
                acc = vadd(acc, x)
            total = vsum(acc)
            for s in range(full, m):  # the tail lane by lane, through scratch vectors
                k = s - full
                T[k] = z[o, s]
            zt = vload(t, 0)
            for s in range(full, m):
                T[s - full] = a[o, s]
            at = vload(t, 0)
            for s in range(full, m):
                T[s - full] = d[o, s]
            x = vload(t, 0)
            if code == 1:
                x = vsel_gt(at, 0.0, x, 0.0)
            elif code != 0:
                x = _times_derivative(code, p, zt, at, x, t)
            vstore(t, 0, x)
            for s in range(full, m):
                d[o, s] = T[s - full]
                total += T[s - full]
            row_sums[o] = total
            keep_alive(T)

    # Entry points the tests call on their own (the vector math against libm).
    @_helper
    def _map_math(which, x, out):
        B = lanes(x)
        for s in range(0, x.shape[0], B):
            v = vload(x, s)
            if which == 0:
                r = _exp_neg(v)
            elif which == 1:
                r = _expm1_neg(v)
            elif which == 2:
                r = _log1p_unit(v)
            elif which == 3:
                r = _log_ge1(v)
            elif which == 4:
                r = _tanh(v)
            else:
                r = _sigmoid(v)
            vstore(out, s, r)

    @_helper
    def _map_activation(code, p, z, out, dout):
        B = lanes(z)
        T = np.empty(B, z.dtype)
        t = address(T)
        for s in range(0, z.shape[0], B):
            v = vload(z, s)
            a = _activate(code, p, v, t)
            vstore(out, s, a)
            vstore(dout, s, _times_derivative(code, p, v, a, vfill(v, 1.0), t))
        keep_alive(T)


def _warm_kernel(dtype) -> None:
    """Run the kernel once on a tiny problem of its argument types (compiles or loads it)."""
    X, nv = pack(np.zeros((1, 1, 1), dtype), dtype)
    Y, _ = pack(np.zeros((1, 1, 1), dtype), dtype)
    theta = np.zeros((1, 2), dtype)
    run(theta, X, Y, nv, 1, layout((1, 1)), (0, 0.0), 2, 2, learning_rate=0.0, n_iter=1)


def _warm_passes(dtype) -> None:
    """Run the element-wise passes for wide layers once on tiny arrays."""
    z = np.zeros((1, 3), dtype)
    bias_activate(z, np.zeros(1, dtype), z, 1, 0.0)
    times_derivative(z, z, z, 1, 0.0, np.zeros(1, dtype))


_PARTS = {
    "kernel": ("the training kernel", _warm_kernel),
    "passes": ("the element-wise passes for wide layers", _warm_passes),
}
_compiled: set[tuple[str, str]] = set()
_compile_lock = threading.Lock()


def cache_dir() -> str | None:
    """Where the compiled kernel is cached (None: nowhere writable, compiled per process)."""
    if not AVAILABLE:
        return None
    cache = getattr(_run, "_cache", None)
    path = getattr(cache, "cache_path", None)
    return str(path) if path else None


def _misses() -> int:
    return sum(
        sum(f.stats.cache_misses.values()) for f in (_run, _bias_activate, _times_derivative_rows)
    )


def ensure_compiled(dtype, part: str = "kernel") -> None:
    """Compile the kernel (``part="kernel"``) or the wide layers' element-wise passes
    (``"passes"``) for ``dtype``, or load them from the cache, before their first use.

    When that takes more than a moment it says so through the ``initlab`` logger (warning
    level: shown on stderr unless logging is configured otherwise): a first use after
    installing, or after upgrading Numba, compiles for 10-30 s; later processes load the cached
    machine code in a fraction of a second and say nothing.
    """
    name = np.dtype(dtype).name
    if (name, part) in _compiled:
        return
    what, warm = _PARTS[part]
    with _compile_lock:
        if (name, part) in _compiled:
            return
        where = cache_dir()
        said = threading.Event()

        def announce():
            said.set()
            _log.warning(
                "initlab: compiling %s for %s (once%s)...",
                what,
                name,
                f"; cached in {where}"
                if where
                else "; no writable cache: set NUMBA_CACHE_DIR to keep it",
            )

        misses = _misses()
        # A load from the cache takes a fraction of a second; only a wait that lasts is
        # announced, as it happens.
        timer = threading.Timer(_NOTICE_AFTER, announce)
        timer.daemon = True
        t0 = time.perf_counter()
        timer.start()
        try:
            warm(dtype)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - t0
        compiled = _misses() > misses or where is None
        if said.is_set() or (compiled and seconds > _NOTICE_AFTER):
            _log.warning(
                "initlab: %s %s for %s in %.1f s",
                "compiled" if compiled else "loaded",
                what,
                name,
                seconds,
            )
        _compiled.add((name, part))


def run(
    theta: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    nv_last: int,
    m: int,
    layout: tuple[np.ndarray, np.ndarray, np.ndarray],
    activation: tuple[int, float],
    output: int,
    loss: int,
    *,
    learning_rate: float,
    n_iter: int,
    alpha: float = 0.0,
    it0: int = 0,
    active: np.ndarray | None = None,
    last: np.ndarray | None = None,
    grad: np.ndarray | None = None,
    losses: np.ndarray | None = None,
    diverged_at: np.ndarray | None = None,
    accuracy_every: int = 0,
    accuracy: np.ndarray | None = None,
    final_accuracy: np.ndarray | None = None,
    snapshot_every: int = 0,
    snapshots: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Train the active networks of a stack for ``n_iter`` full-batch iterations, in place.

    Parameters
    ----------
    theta : ndarray, shape (K, P), C-contiguous, float32 or float64
        Parameters, updated in place by theta -= learning_rate * gradient after each finite
        iteration (``learning_rate=0``: gradients only).
    X, Y : ndarray, shape (1 or K, n_blocks, n or c, B)
        Inputs and targets packed by :func:`pack` (theta's dtype); ``nv_last`` samples are real
        in the last block, ``m`` in all.
    layout : (sizes, weight offsets, bias offsets), from :func:`layout`
    activation : (code, parameter)
    output, loss : int
        Codes from :data:`OUTPUT_CODES` and :data:`LOSS_CODES`.
    learning_rate, n_iter, alpha : float, int, float
        Step size, iterations, the L2 penalty (as in ``engine.train``).
    it0 : int
        The first iteration's number (for the accuracy and snapshot schedules).
    active : ndarray of bool, shape (K,), updated
        Networks to train; a network whose loss or gradient is not finite is set inactive, its
        iteration written to ``diverged_at`` and its parameters rolled back to ``last``.
    last : ndarray, shape (K, P), updated
        Each network's last parameters whose loss and gradient were finite (before each update
        they are copied here): where a diverged network goes back to. None: its parameters at
        the call (a network that diverges in the call's first iteration keeps them).
    grad : ndarray, shape (K, P), written
        Each network's last gradient.
    losses : ndarray, shape (n_iter, K), float64, written
        The loss per iteration, on the parameters before its update (left as it is after a
        network stops).
    accuracy_every, accuracy : int, ndarray (n_points, K) float64
        If > 0, the share of correct predictions on the data at iterations t with
        t % accuracy_every == 0 (computed in the iteration's forward pass) into row
        t // accuracy_every.
    final_accuracy : ndarray (K,) float64, or None
        If given, the accuracy of the parameters after the last iteration (every network).
    snapshot_every, snapshots : int, (theta (n_snap, K, P), grad (n_snap, K, P))
        If > 0, the parameters before the update and the gradient at iterations t with
        t % snapshot_every == 0 into row t // snapshot_every.
    """
    K, P = theta.shape
    dt = theta.dtype
    empty2 = np.empty((0, K), np.float64)
    # The step and the penalty in the parameters' dtype, as NumPy's `theta -= lr * g` takes them.
    args = (
        theta,
        theta.copy() if last is None else last,
        np.empty((K, P), dt) if grad is None else grad,
        X,
        Y,
        int(nv_last),
        int(m),
        *layout,
        int(activation[0]),
        float(activation[1]),
        int(output),
        int(loss),
        dt.type(alpha),
        dt.type(learning_rate),
        int(it0),
        int(n_iter),
        np.ones(K, bool) if active is None else active,
        np.empty((n_iter, K), np.float64) if losses is None else losses,
        np.full(K, -1, np.int64) if diverged_at is None else diverged_at,
        int(accuracy_every),
        empty2 if accuracy is None else accuracy,
        np.empty(0, np.float64) if final_accuracy is None else final_accuracy,
        int(snapshot_every),
        np.empty((0, K, P), dt) if snapshots is None else snapshots[0],
        np.empty((0, K, P), dt) if snapshots is None else snapshots[1],
    )
    # Threads take a few networks at a time, so that one that finishes early (its networks
    # diverged) takes more.
    with numba.parallel_chunksize(_CHUNK):
        _run(*args)


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
    """One gradient step of the active networks of a stack, on unpacked data.

    Parameters
    ----------
    theta, grad : ndarray, shape (K, P), C-contiguous, float32 or float64
        Parameters (updated in place when ``learning_rate > 0``) and the gradient (written).
    X, Y : ndarray, shape (1 or K, n_features, m) and (1 or K, c, m), theta's dtype
    layout, activation, output, loss, alpha : as in :func:`run`
    active : ndarray of bool, shape (K,)
        Networks to compute; the others are left as they are.
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
    ensure_compiled(theta.dtype)
    K = theta.shape[0]
    Xb, nv = pack(X, theta.dtype)
    Yb, _ = pack(Y, theta.dtype)
    losses = np.full((1, K), np.nan)
    diverged_at = np.full(K, -1, np.int64)
    run(
        theta,
        Xb,
        Yb,
        nv,
        X.shape[-1],
        layout,
        activation,
        output,
        loss,
        learning_rate=learning_rate,
        n_iter=1,
        alpha=alpha,
        active=active.copy(),
        grad=grad,
        losses=losses,
        diverged_at=diverged_at,
    )
    return losses[0], diverged_at < 0


def bias_activate(z: np.ndarray, b: np.ndarray, a: np.ndarray, code: int, p: float) -> None:
    """z += b (one bias per row) and a = phi(z), in one pass over each row (without the GIL:
    threads may run it side by side); ``a`` may be ``z`` (then only phi(z) is kept).
    C-contiguous (units, m)."""
    _bias_activate(z, b, a, int(code), float(p), a is z)


def times_derivative(
    d: np.ndarray, z: np.ndarray, a: np.ndarray, code: int, p: float, row_sums: np.ndarray
) -> None:
    """d *= phi'(z) in place (given a = phi(z)) and row_sums = the sum of each row of the
    result (the bias gradient), in one pass over each row (without the GIL)."""
    _times_derivative_rows(d, z, a, int(code), float(p), row_sums)
