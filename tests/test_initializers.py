"""Tests for initlab.initializers: the contract over the registry, formulas, and oracles.

Statistical checks derive their tolerance from the sampling error and allow 6 standard errors
(a false failure about once in 5e8 checks): for n iid draws with standard deviation s, the
sample mean has standard error s / sqrt(n) and the sample std about s / sqrt(2 n) (exact for a
normal; lighter-tailed draws, uniform or truncated, have a smaller one, so it is conservative).
"""

from __future__ import annotations

import inspect
import math
import pickle
import re

import numpy as np
import pytest
import scipy.stats
from scipy.integrate import quad
from scipy.linalg import hadamard

from initlab import initializers as inits
from initlab._spec import parse_spec
from initlab.activations import get_activation
from initlab.initializers import (
    INITIALIZERS,
    TRUNCATED_NORMAL_STD,
    Initializer,
    auto_initializer,
    calculate_gain,
    compute_fans,
    get_initializer,
    list_initializers,
    register_initializer,
    variance_preserving_gain,
)

NAMES = INITIALIZERS.names()
SHAPES = [(1, 1), (3, 5), (64, 32), (20, 20), (8, 4, 3, 3)]
DTYPES = [np.float32, np.float64]
RNGS = [np.random.default_rng, np.random.RandomState]
# Shapes a scheme cannot take, with the reason (the call must raise ValueError).
UNSUPPORTED = {
    ("identity", 4): "identity (PyTorch's eye_) is defined for 2-D weights only",
    ("sparse", 4): "sparse (PyTorch's sparse_) is defined for 2-D weights only",
}
SIGMAS = 6.0


def _std_tol(std: float, n: int) -> float:
    return SIGMAS * std / math.sqrt(2 * n)


def _mean_tol(std: float, n: int) -> float:
    return SIGMAS * std / math.sqrt(n)


# --------------------------------------------------------------------------------------------
# The contract, over every registered scheme
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_contract(name, shape, dtype):
    init = get_initializer(name)
    if (name, len(shape)) in UNSUPPORTED:
        with pytest.raises(ValueError, match=re.escape(str(shape))):
            init(np.random.default_rng(0), shape, dtype)
        pytest.skip(UNSUPPORTED[name, len(shape)])
    for make_rng in RNGS:
        rng = make_rng(0)
        W1 = init(rng, shape, dtype)
        W2 = init(rng, shape, dtype)
        assert W1.shape == shape and W1.dtype == dtype
        assert W1.flags.c_contiguous and W1.flags.writeable
        assert np.all(np.isfinite(W1))
        assert not np.shares_memory(W1, W2)  # a new array each call
        W1[...] = 7.0
        assert not np.any(W2 == 7.0)
        # Determinism: the same seed gives the same bits.
        again = init(make_rng(0), shape, dtype)
        assert again.tobytes() == init(make_rng(0), shape, dtype).tobytes()
        # Drawn in float64, then cast.
        if dtype == np.float32:
            assert again.tobytes() == init(make_rng(0), shape).astype(np.float32).tobytes()
        b = init.bias(make_rng(0), shape, dtype)
        assert b.shape == (shape[0],) and b.dtype == dtype and np.all(np.isfinite(b))


@pytest.mark.parametrize("name", NAMES)
def test_registry_entry_is_documented_and_consistent(name):
    init = get_initializer(name)
    row = next(r for r in list_initializers() if r["name"] == name)
    assert row["formula"] and row["reference"]
    assert init.name == name and init.spec == name  # defaults are left out of the spec
    assert init.params == row["parameters"]
    assert init.draws_bias == row["draws_bias"]
    assert init.data_dependent == row["data_dependent"]
    assert repr(init) == f"Initializer({name!r})"
    factory = INITIALIZERS.entry(name).factory
    assert factory.__doc__ and "Examples" in factory.__doc__ and "References" in factory.__doc__
    for alias in row["aliases"]:
        assert get_initializer(alias) == init


def test_flags():
    rows = {r["name"]: r for r in list_initializers()}
    assert {n for n, r in rows.items() if r["draws_bias"]} == {"torch_linear", "sklearn_mlp"}
    assert {n for n, r in rows.items() if r["data_dependent"]} == {"lsuv"}


@pytest.mark.parametrize("name", NAMES)
def test_pickle_and_spec_round_trip(name):
    init = get_initializer(name)
    assert pickle.loads(pickle.dumps(init)) == init
    changed = {
        "normal": "normal(std=10)",
        "he_normal": "he_normal(a=0.2, mode='fan_out')",
        "variance_scaling": "variance_scaling(scale=2, mode='fan_avg', distribution='uniform')",
        "sklearn_mlp": "sklearn_mlp(activation='logistic')",
    }.get(name)
    if changed:
        init = get_initializer(changed)
        assert init.spec == changed and get_initializer(init.spec) == init
        W = init(np.random.RandomState(1), (4, 3))
        W_back = pickle.loads(pickle.dumps(init))(np.random.RandomState(1), (4, 3))
        assert W.tobytes() == W_back.tobytes()


def test_generator_and_randomstate_both_work_without_global_state():
    state = np.random.get_state()  # noqa: NPY002 - the point is that it stays untouched
    for name in NAMES:
        if name not in ("identity", "sparse"):
            get_initializer(name)(np.random.RandomState(0), (6, 4, 3))
        get_initializer(name)(np.random.default_rng(0), (6, 4))
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]


def test_bad_rng_shape_dtype():
    init = get_initializer("normal")
    with pytest.raises(ValueError, match=r"'rng' parameter must be a numpy\.random\.Generator"):
        init(0, (2, 2))
    with pytest.raises(ValueError, match="'shape' parameter must be a tuple of non-negative"):
        init(np.random.default_rng(0), (2, -1))
    with pytest.raises(ValueError, match="'dtype' parameter must be a floating dtype"):
        init(np.random.default_rng(0), (2, 2), np.int64)


def test_empty_shapes_draw_nothing():
    rng = np.random.default_rng(0)
    for name in NAMES:
        W = get_initializer(name)(rng, (0, 5))
        assert W.shape == (0, 5)
    assert rng.standard_normal() == np.random.default_rng(0).standard_normal()


# --------------------------------------------------------------------------------------------
# Fans
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (16, 8, 3), (16, 8, 3, 3), (4, 2, 3, 3, 3)])
def test_compute_fans_matches_pytorch(shape):
    torch = pytest.importorskip("torch")
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert compute_fans(shape) == expected


def test_compute_fans_small_shapes():
    assert compute_fans((7,)) == (7, 7)  # Keras's rule for 1-D
    assert compute_fans(()) == (1, 1)
    assert compute_fans(4) == (4, 4)


# --------------------------------------------------------------------------------------------
# Every scheme against its formula
# --------------------------------------------------------------------------------------------

FANS = [(400, 250), (100, 1000), (32, 16, 5, 5)]  # (out, in, *receptive): large draws


def _fan(shape, mode):
    fan_in, fan_out = compute_fans(shape)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def _he_std(a, mode):
    return lambda shape: math.sqrt(2.0 / (1 + a * a) / _fan(shape, mode))


# spec -> (mean, std(shape), bound(shape) or None): the distributions' formulas, written out
# independently of the implementation.
FORMULAS = {
    "normal": (0.0, lambda s: 1.0, None),
    "normal(std=0.3, mean=-1.5)": (-1.5, lambda s: 0.3, None),
    "uniform": (0.0, lambda s: 0.1 / math.sqrt(12), lambda s: 0.05),
    "uniform(low=0, high=1)": (0.5, lambda s: 1 / math.sqrt(12), None),
    "glorot_uniform": (0.0, lambda s: math.sqrt(2 / sum(compute_fans(s))), None),
    "glorot_uniform(gain=2.0)": (0.0, lambda s: 2 * math.sqrt(2 / sum(compute_fans(s))), None),
    "glorot_normal(gain=0.5)": (0.0, lambda s: 0.5 * math.sqrt(2 / sum(compute_fans(s))), None),
    "he_normal": (0.0, _he_std(0.0, "fan_in"), None),
    "he_normal(a=0.2, mode=fan_out)": (0.0, _he_std(0.2, "fan_out"), None),
    "he_uniform": (0.0, _he_std(0.0, "fan_in"), lambda s: math.sqrt(6 / _fan(s, "fan_in"))),
    "he_uniform(a=1.0, mode=fan_out)": (0.0, _he_std(1.0, "fan_out"), None),
    "he_normal(nonlinearity=tanh)": (0.0, lambda s: 5 / 3 / math.sqrt(_fan(s, "fan_in")), None),
    "lecun_normal": (0.0, lambda s: math.sqrt(1 / _fan(s, "fan_in")), None),
    "lecun_uniform": (0.0, lambda s: math.sqrt(1 / _fan(s, "fan_in")), None),
    "variance_scaling(scale=3.0, mode=fan_avg, distribution=normal)": (
        0.0,
        lambda s: math.sqrt(3.0 / _fan(s, "fan_avg")),
        None,
    ),
    "variance_scaling(scale=0.5, mode=fan_out, distribution=uniform)": (
        0.0,
        lambda s: math.sqrt(0.5 / _fan(s, "fan_out")),
        lambda s: math.sqrt(3 * 0.5 / _fan(s, "fan_out")),
    ),
    "torch_linear": (
        0.0,
        lambda s: 1 / math.sqrt(3 * _fan(s, "fan_in")),
        lambda s: 1 / math.sqrt(_fan(s, "fan_in")),
    ),
    "keras_dense": (0.0, lambda s: math.sqrt(2 / sum(compute_fans(s))), None),
    "sklearn_mlp": (
        0.0,
        lambda s: math.sqrt(6 / sum(compute_fans(s))) / math.sqrt(3),
        lambda s: math.sqrt(6 / sum(compute_fans(s))),
    ),
    "sklearn_mlp(activation=logistic)": (
        0.0,
        lambda s: math.sqrt(2 / sum(compute_fans(s))) / math.sqrt(3),
        lambda s: math.sqrt(2 / sum(compute_fans(s))),
    ),
    "flax_dense": (
        0.0,
        lambda s: math.sqrt(1 / _fan(s, "fan_in")),
        lambda s: 2 * math.sqrt(1 / _fan(s, "fan_in")) / TRUNCATED_NORMAL_STD,
    ),
}


TRUNCATED = {"flax_dense"}  # a bound, but thin density near it: only the bound is checked


@pytest.mark.parametrize("shape", FANS, ids=str)
@pytest.mark.parametrize("spec", list(FORMULAS))
def test_scheme_matches_formula(spec, shape):
    mean, std_of, bound_of = FORMULAS[spec]
    W = get_initializer(spec)(np.random.default_rng(12345), shape)
    n, std = W.size, std_of(shape)
    assert abs(W.mean() - mean) < _mean_tol(std, n)
    assert abs(W.std() - std) < _std_tol(std, n)
    if bound_of is not None:
        bound = bound_of(shape)
        assert np.abs(W - mean).max() <= bound
        if spec not in TRUNCATED:
            # |W - mean| is uniform on [0, bound]: all n draws stay below bound (1 - 40 / n)
            # with probability (1 - 40 / n)^n ~ e^-40.
            assert np.abs(W - mean).max() > bound * (1 - 40 / n)


@pytest.mark.parametrize("shape", FANS, ids=str)
@pytest.mark.parametrize("scale", [1.0, 2.0, 0.25])
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg"])
def test_variance_scaling_truncated_normal_keras_formula(mode, scale, shape):
    # The point of the 0.8796 correction: the realized std is exactly sqrt(scale / fan).
    spec = f"variance_scaling(scale={scale}, mode={mode}, distribution=truncated_normal)"
    W = get_initializer(spec)(np.random.default_rng(7), shape)
    std = math.sqrt(scale / _fan(shape, mode))
    assert abs(W.std() - std) < _std_tol(std, W.size)
    assert abs(W.mean()) < _mean_tol(std, W.size)
    assert np.abs(W).max() <= 2 * std / TRUNCATED_NORMAL_STD


def test_truncated_normal_std_constant():
    assert TRUNCATED_NORMAL_STD == pytest.approx(scipy.stats.truncnorm(-2, 2).std(), abs=1e-15)


@pytest.mark.parametrize(
    ("mean", "std", "a", "b"),
    [(0.0, 1.0, -2.0, 2.0), (0.5, 2.0, -1.0, 4.0), (0.0, 1.0, 1.0, 3.0), (3.0, 0.5, -5.0, 2.8)],
)
def test_truncated_normal_pytorch_meaning(mean, std, a, b):
    # a and b are absolute cut-offs; scipy's truncnorm is the oracle for the realized moments.
    spec = f"truncated_normal(mean={mean}, std={std}, a={a}, b={b})"
    W = get_initializer(spec)(np.random.RandomState(0), (300, 300))
    oracle = scipy.stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert W.min() >= a and W.max() <= b
    assert abs(W.mean() - oracle.mean()) < _mean_tol(oracle.std(), W.size)
    assert abs(W.std() - oracle.std()) < _std_tol(oracle.std(), W.size)


def test_truncated_normal_far_tail_is_accurate():
    # All the mass in the upper tail, where Phi rounds to 1: sampled on the mirror image.
    W = get_initializer("truncated_normal(a=8.0, b=9.0)")(np.random.default_rng(0), (100, 100))
    oracle = scipy.stats.truncnorm(8.0, 9.0)
    assert W.min() >= 8.0 and W.max() <= 9.0
    assert abs(W.mean() - oracle.mean()) < _mean_tol(oracle.std(), W.size)


@pytest.mark.parametrize("shape", [(50, 30), (30, 50), (16, 8, 3, 3), (20, 20)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape, gain):
    W = get_initializer(f"orthogonal(gain={gain})")(np.random.default_rng(0), shape)
    M = W.reshape(shape[0], -1)
    G = M @ M.T if M.shape[0] <= M.shape[1] else M.T @ M
    np.testing.assert_allclose(G, gain**2 * np.eye(len(G)), atol=1e-12)


def test_orthogonal_is_haar():
    # Haar-distributed Q: each entry of a 2x2 has E[q^2] = 1/2, and det is +-1 with equal odds.
    init = get_initializer("orthogonal")
    Ws = np.stack([init(np.random.default_rng(s), (2, 2)) for s in range(2000)])
    signs = np.sign(np.linalg.det(Ws))
    # Binomial(2000, 1/2): std of the mean of the signs is 1 / sqrt(2000).
    assert abs(signs.mean()) < SIGMAS / math.sqrt(2000)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_identity(shape):
    W = get_initializer("identity(gain=2.0)")(np.random.default_rng(0), shape)
    assert np.array_equal(W, 2.0 * np.eye(*shape))


@pytest.mark.parametrize(("rows", "sparsity"), [(200, 0.1), (30, 0.1), (7, 0.5), (10, 0.0)])
def test_sparse(rows, sparsity):
    W = get_initializer(f"sparse(sparsity={sparsity}, std=0.5)")(
        np.random.default_rng(0), (rows, 400)
    )
    assert np.all((W == 0).sum(axis=0) == math.ceil(sparsity * rows))
    nonzero = W[W != 0]
    assert abs(nonzero.std() - 0.5) < _std_tol(0.5, nonzero.size)


def test_constants():
    rng = np.random.default_rng(0)
    assert np.array_equal(get_initializer("zeros")(rng, (3, 2)), np.zeros((3, 2)))
    assert np.array_equal(get_initializer("ones")(rng, (3, 2)), np.ones((3, 2)))
    assert np.array_equal(get_initializer("constant(value=-0.25)")(rng, (3,)), [-0.25] * 3)


# --------------------------------------------------------------------------------------------
# Bias rules
# --------------------------------------------------------------------------------------------


def test_bias_fans_come_from_the_weight_shape():
    n = 20000
    # torch_linear: U(+-1/sqrt(fan_in)) with fan_in = 50 from the weight, not from (out,).
    b = get_initializer("torch_linear").bias(np.random.default_rng(0), (n, 50))
    bound = 1 / math.sqrt(50)
    assert np.abs(b).max() <= bound and np.abs(b).max() > bound * (1 - 40 / n)
    # he_normal: N(0, 2 / fan_in) at shape (out,).
    b = get_initializer("he_normal").bias(np.random.default_rng(0), (n, 8))
    assert abs(b.std() - 0.5) < _std_tol(0.5, n)


@pytest.mark.parametrize(
    "name",
    ["identity", "orthogonal", "sparse", "zero_hadamard", "lsuv", "keras_dense", "flax_dense"],
)
def test_structured_and_zero_bias_frameworks_give_zero_bias(name):
    rng = np.random.default_rng(0)
    b = get_initializer(name).bias(rng, (5, 3))
    assert np.array_equal(b, np.zeros(5))
    assert rng.standard_normal() == np.random.default_rng(0).standard_normal()  # no draw


# --------------------------------------------------------------------------------------------
# Bit-exact reproductions
# --------------------------------------------------------------------------------------------

DLS_LAYERS = [(10, 2), (5, 10), (1, 5)]  # (out, in) of the course's [2, 10, 5, 1] network


def test_he_normal_reproduces_deep_learning_specialization_bit_for_bit():
    # initialize_parameters_he: np.random.seed(3); W = np.random.randn(out, in) * np.sqrt(2./in)
    init, rng, ref = (
        get_initializer("he_normal"),
        np.random.RandomState(3),
        np.random.RandomState(3),
    )
    Ws = [init(rng, shape) for shape in DLS_LAYERS]
    for W, (out, n_in) in zip(Ws, DLS_LAYERS, strict=True):
        assert W.tobytes() == (ref.randn(out, n_in) * np.sqrt(2.0 / n_in)).tobytes()
    # The course's published W1 (fan_in = 2, so the scale is exactly 1).
    np.testing.assert_allclose(Ws[0][:2], [[1.78862847, 0.43650985], [0.09649747, -1.8634927]])


def test_normal_reproduces_large_random_init_bit_for_bit():
    # initialize_parameters_random: W = np.random.randn(out, in) * 10
    init, rng, ref = (
        get_initializer("normal(std=10)"),
        np.random.RandomState(3),
        np.random.RandomState(3),
    )
    for shape in DLS_LAYERS:
        assert init(rng, shape).tobytes() == (ref.randn(*shape) * 10).tobytes()
    gen, ref_gen = np.random.default_rng(5), np.random.default_rng(5)
    assert init(gen, (4, 3)).tobytes() == (ref_gen.standard_normal((4, 3)) * 10).tobytes()


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
@pytest.mark.parametrize("seed", [0, 42])
def test_sklearn_mlp_matches_scikit_learn_bit_for_bit(activation, seed):
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier()
    clf.activation = activation
    clf._random_state = np.random.RandomState(seed)
    init = get_initializer(f"sklearn_mlp(activation={activation})")
    rng = np.random.RandomState(seed)
    for fan_in, fan_out in [(2, 10), (10, 5), (5, 1)]:
        coef, intercept = clf._init_coef(fan_in, fan_out, np.float64)
        W = init(rng, (fan_out, fan_in))
        b = init.bias(rng, (fan_out, fan_in))
        assert W.tobytes() == np.ascontiguousarray(coef.T).tobytes()
        assert b.tobytes() == intercept.tobytes()


# --------------------------------------------------------------------------------------------
# ZerO
# --------------------------------------------------------------------------------------------


def _zero_oracle(out, n_in):
    m = math.ceil(math.log2(out))
    return 2 ** (-(m - 1) / 2) * hadamard(2**m)[:out, :n_in]


def test_zero_hadamard_is_deterministic_and_draws_nothing():
    init = get_initializer("zero_hadamard")
    rng = np.random.RandomState(0)
    W = init(rng, (12, 5))
    assert rng.randn() == np.random.RandomState(0).randn()  # the stream did not move
    assert np.array_equal(W, init(np.random.default_rng(99), (12, 5)))


@pytest.mark.parametrize(
    ("out", "n_in"), [(6, 6), (1, 1), (3, 7), (1, 4), (2, 1), (5, 3), (12, 5), (64, 32), (8, 7)]
)
def test_zero_hadamard_structure(out, n_in):
    W = get_initializer("zero_hadamard")(np.random.default_rng(0), (out, n_in))
    if out <= n_in:  # identity, or partial identity when narrowing
        assert np.array_equal(W, np.eye(out, n_in))
    else:
        np.testing.assert_array_equal(W, _zero_oracle(out, n_in))
        assert set(np.unique(np.abs(W))) == {2 ** (-(math.ceil(math.log2(out)) - 1) / 2)}


@pytest.mark.parametrize(("out", "n_in"), [(64, 32), (8, 3), (2, 1), (16, 15)])
def test_zero_hadamard_widening_columns_are_orthogonal_with_equal_norms(out, n_in):
    # With out = 2^m the kept rows are all of H_m's, so W^T W = c^2 2^m I = 2 I (the paper's c).
    W = get_initializer("zero_hadamard")(np.random.default_rng(0), (out, n_in))
    np.testing.assert_allclose(W.T @ W, 2.0 * np.eye(n_in), atol=1e-12)


def test_zero_hadamard_convolution_kernel():
    K = get_initializer("zero_hadamard")(np.random.default_rng(0), (8, 4, 3, 3))
    np.testing.assert_array_equal(K[:, :, 1, 1], _zero_oracle(8, 4))
    K[:, :, 1, 1] = 0
    assert not K.any()
    with pytest.raises(ValueError, match="odd kernel sizes"):
        get_initializer("zero_hadamard")(np.random.default_rng(0), (8, 4, 2, 2))


def test_schemes_reject_shapes_they_cannot_take():
    rng = np.random.default_rng(0)
    for name in ("orthogonal", "zero_hadamard", "lsuv"):
        with pytest.raises(ValueError, match=re.escape("at least 2 dimensions")):
            get_initializer(name)(rng, (5,))
    with pytest.raises(ValueError, match=re.escape("needs a 2-D weight shape")):
        get_initializer("identity")(rng, (8, 4, 3, 3))


# --------------------------------------------------------------------------------------------
# Against torch.nn.init
# --------------------------------------------------------------------------------------------

TORCH_SHAPES = [(300, 200), (64, 32, 3, 3)]


def _torch_pairs(torch):
    nn_init = torch.nn.init
    return {
        "uniform(low=-0.3, high=0.7)": lambda t: nn_init.uniform_(t, -0.3, 0.7),
        "normal(std=0.5, mean=0.2)": lambda t: nn_init.normal_(t, 0.2, 0.5),
        "truncated_normal(mean=0.1, std=1.0, a=-1.0, b=1.5)": lambda t: nn_init.trunc_normal_(
            t, 0.1, 1.0, -1.0, 1.5
        ),
        "truncated_normal(std=0.02)": lambda t: nn_init.trunc_normal_(t, std=0.02),
        "xavier_uniform(gain=2.0)": lambda t: nn_init.xavier_uniform_(t, gain=2.0),
        "xavier_normal(gain=0.5)": lambda t: nn_init.xavier_normal_(t, gain=0.5),
        "kaiming_uniform": lambda t: nn_init.kaiming_uniform_(t),
        "kaiming_uniform(a=2.23606797749979)": lambda t: nn_init.kaiming_uniform_(
            t, a=math.sqrt(5)
        ),
        "kaiming_normal(a=0.2, mode=fan_out)": lambda t: nn_init.kaiming_normal_(
            t, a=0.2, mode="fan_out"
        ),
        "kaiming_normal(nonlinearity=relu)": lambda t: nn_init.kaiming_normal_(
            t, nonlinearity="relu"
        ),
        "kaiming_uniform(mode=fan_out, nonlinearity=tanh)": lambda t: nn_init.kaiming_uniform_(
            t, mode="fan_out", nonlinearity="tanh"
        ),
        "kaiming_normal(nonlinearity=selu)": lambda t: nn_init.kaiming_normal_(
            t, nonlinearity="selu"
        ),
    }


def _torch_draw(torch, torch_init, shape):
    with torch.random.fork_rng():  # leave torch's global generator as it was
        torch.manual_seed(0)
        return torch_init(torch.empty(shape, dtype=torch.float64)).numpy()


@pytest.mark.parametrize("shape", TORCH_SHAPES, ids=str)
def test_random_schemes_match_torch_statistically(shape):
    torch = pytest.importorskip("torch")
    for spec, torch_init in _torch_pairs(torch).items():
        ours = get_initializer(spec)(np.random.default_rng(0), shape)
        theirs = _torch_draw(torch, torch_init, shape)
        n, s = ours.size, theirs.std()
        # Difference of two independent estimates: standard errors add in quadrature.
        assert abs(ours.std() - s) < math.sqrt(2) * _std_tol(s, n), spec
        assert abs(ours.mean() - theirs.mean()) < math.sqrt(2) * _mean_tol(s, n), spec


def test_uniform_bounds_match_torch():
    torch = pytest.importorskip("torch")
    shape = (300, 200)
    for spec, torch_init in _torch_pairs(torch).items():
        if "uniform" not in spec:
            continue
        ours = get_initializer(spec)(np.random.default_rng(0), shape)
        theirs = _torch_draw(torch, torch_init, shape)
        # Both maxima sit within a factor (1 - 40 / n) of the common bound (prob. ~e^-40 each).
        bound = max(np.abs(ours).max(), np.abs(theirs).max())
        for W in (ours, theirs):
            assert np.abs(W).max() > bound * (1 - 40 / W.size), spec


def test_deterministic_schemes_equal_torch():
    torch = pytest.importorskip("torch")
    nn_init, rng = torch.nn.init, np.random.default_rng(0)
    for shape in [(3, 5), (5, 3), (4, 4)]:
        t = torch.empty(shape, dtype=torch.float64)
        assert np.array_equal(get_initializer("eye")(rng, shape), nn_init.eye_(t).numpy())
        assert np.array_equal(get_initializer("zeros")(rng, shape), nn_init.zeros_(t).numpy())
        assert np.array_equal(get_initializer("ones")(rng, shape), nn_init.ones_(t).numpy())
        ours = get_initializer("constant(value=0.3)")(rng, shape)
        assert np.array_equal(ours, nn_init.constant_(t, 0.3).numpy())


@pytest.mark.parametrize("shape", [(40, 30), (30, 40), (16, 8, 3, 3)], ids=str)
def test_orthogonal_matches_torch(shape):
    torch = pytest.importorskip("torch")
    gain = 1.7
    for W in (
        get_initializer(f"orthogonal(gain={gain})")(np.random.default_rng(0), shape),
        _torch_draw(torch, lambda t: torch.nn.init.orthogonal_(t, gain=gain), shape),
    ):
        M = W.reshape(shape[0], -1)
        G = M @ M.T if M.shape[0] <= M.shape[1] else M.T @ M
        np.testing.assert_allclose(G, gain**2 * np.eye(len(G)), atol=1e-12)


@pytest.mark.parametrize(("rows", "sparsity"), [(100, 0.1), (30, 0.1), (9, 0.35)])
def test_sparse_matches_torch(rows, sparsity):
    torch = pytest.importorskip("torch")
    shape = (rows, 50)
    ours = get_initializer(f"sparse(sparsity={sparsity})")(np.random.default_rng(0), shape)
    theirs = _torch_draw(torch, lambda t: torch.nn.init.sparse_(t, sparsity), shape)
    assert np.array_equal((ours == 0).mean(axis=0), (theirs == 0).mean(axis=0))


def test_torch_linear_matches_nn_linear():
    torch = pytest.importorskip("torch")
    n_in, n_out = 250, 4000
    with torch.random.fork_rng():
        torch.manual_seed(0)
        layer = torch.nn.Linear(n_in, n_out, dtype=torch.float64)
    theirs_W, theirs_b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    init = get_initializer("torch_linear")
    rng = np.random.default_rng(0)
    ours_W, ours_b = init(rng, (n_out, n_in)), init.bias(rng, (n_out, n_in))
    bound = 1 / math.sqrt(n_in)
    for ours, theirs in [(ours_W, theirs_W), (ours_b, theirs_b)]:
        n = ours.size
        assert np.abs(ours).max() <= bound and np.abs(theirs).max() <= bound + 1e-15
        s = bound / math.sqrt(3)
        assert abs(ours.std() - theirs.std()) < math.sqrt(2) * _std_tol(s, n)


@pytest.mark.parametrize(
    "name",
    [
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "selu",
    ],
)
def test_calculate_gain_equals_torch(name):
    torch = pytest.importorskip("torch")
    assert calculate_gain(name) == torch.nn.init.calculate_gain(name)


@pytest.mark.parametrize("slope", [None, 0, 0.01, 0.2, 1, 3.5])
def test_calculate_gain_leaky_relu_slopes_equal_torch(slope):
    torch = pytest.importorskip("torch")
    assert calculate_gain("leaky_relu", slope) == torch.nn.init.calculate_gain("leaky_relu", slope)
    if slope is not None:
        assert calculate_gain(f"leaky_relu(slope={slope})") == pytest.approx(
            calculate_gain("leaky_relu", slope), rel=1e-15
        )


# --------------------------------------------------------------------------------------------
# Gains by quadrature
# --------------------------------------------------------------------------------------------


def _quad_gain(spec):
    # Independent oracle: adaptive quadrature, split at the kink, over [-40, 40] (the Gaussian
    # weight beyond 40 is below 1e-300).
    f = get_activation(spec).f

    def g(z):
        return float(f(np.array(z))) ** 2 * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    m = sum(
        quad(g, lo, hi, epsabs=1e-14, epsrel=1e-13, limit=200)[0] for lo, hi in [(-40, 0), (0, 40)]
    )
    return 1 / math.sqrt(m)


def test_variance_preserving_gain_exact_cases():
    assert abs(variance_preserving_gain("relu") - math.sqrt(2)) < 1e-10
    assert abs(variance_preserving_gain("linear") - 1) < 1e-10
    assert abs(variance_preserving_gain("leaky_relu(slope=0.2)") - math.sqrt(2 / 1.04)) < 1e-10
    assert abs(variance_preserving_gain("selu") - 1) < 1e-10  # SELU's fixed point


@pytest.mark.parametrize(
    "spec", ["gelu", "silu", "softplus", "elu", "elu(alpha=0.5)", "tanh", "sigmoid", "swish"]
)
def test_variance_preserving_gain_against_adaptive_quadrature(spec):
    assert abs(variance_preserving_gain(spec) - _quad_gain(spec)) < 1e-10


def test_gelu_gain_against_monte_carlo():
    z = np.random.default_rng(0).standard_normal(200_000)
    a2 = get_activation("gelu")(z) ** 2
    # delta method: gain = m^-1/2, so se(gain) = se(m) / (2 m^1.5)
    m, se = a2.mean(), a2.std() / math.sqrt(z.size)
    assert abs(calculate_gain("gelu") - m**-0.5) < SIGMAS * se / (2 * m**1.5)


def test_calculate_gain_outside_torch_table_uses_quadrature():
    for spec in ["gelu", "silu", "elu(alpha=0.5)", "softplus"]:
        assert calculate_gain(spec) == variance_preserving_gain(spec)
    assert calculate_gain("logistic") == 1.0  # an alias of PyTorch's sigmoid
    assert abs(variance_preserving_gain("tanh") - 1.5925) < 1e-4  # not 5/3


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match=r"'nonlinearity' parameter of calculate_gain must be one"):
        calculate_gain("sofplus")
    with pytest.raises(ValueError, match=r"Valid parameters: alpha"):
        calculate_gain("elu(beta=1)")
    with pytest.raises(ValueError, match=r"'param' parameter of calculate_gain"):
        calculate_gain("leaky_relu", "0.1")
    with pytest.raises(ValueError, match=r"must be None when the nonlinearity spec"):
        calculate_gain("leaky_relu(slope=0.2)", 0.3)


def test_he_normal_with_other_nonlinearities():
    # gain^2 / fan for nonlinearities outside the rectifiers, including initlab's own.
    shape, n = (400, 250), 100_000
    for spec, gain in [("gelu", calculate_gain("gelu")), ("conv2d", 1.0), ("sigmoid", 1.0)]:
        W = get_initializer(f"he_normal(nonlinearity={spec})")(np.random.default_rng(1), shape)
        std = gain / math.sqrt(250)
        assert abs(W.std() - std) < _std_tol(std, n)


# --------------------------------------------------------------------------------------------
# auto
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activation", "expected"),
    [
        ("relu", "he_normal"),
        ("leaky_relu", "he_normal(a=0.01)"),
        ("leaky_relu(slope=0.2)", "he_normal(a=0.2)"),
        ("elu", "he_normal"),
        ("gelu", "he_normal"),
        ("silu", "he_normal"),
        ("swish", "he_normal"),
        ("softplus", "he_normal"),
        ("tanh", "glorot_uniform"),
        ("sigmoid", "glorot_uniform"),
        ("logistic", "glorot_uniform"),
        ("linear", "glorot_uniform"),
        ("identity", "glorot_uniform"),
        ("selu", "lecun_normal"),
    ],
)
def test_auto_initializer(activation, expected):
    assert auto_initializer(activation) == expected
    assert auto_initializer(get_activation(activation)) == expected
    get_initializer(expected)  # a valid spec


def test_auto_initializer_unknown():
    with pytest.raises(ValueError, match=r"'activation' parameter of auto_initializer"):
        auto_initializer("relu6")


# --------------------------------------------------------------------------------------------
# Spec parsing and errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nrmal", "Unknown init 'nrmal'. Valid names: "),
        (
            "normal(sd=1)",
            "Unknown parameter 'sd' for init 'normal' in 'normal(sd=1)'. "
            "Valid parameters: std, mean.",
        ),
        ("normal(std=-1)", "The 'std' parameter of normal must be a float >= 0. Got -1 instead."),
        (
            "normal(std='big')",
            "The 'std' parameter of normal must be a float >= 0. Got 'big' instead.",
        ),
        (
            "sparse(sparsity=1.0)",
            "The 'sparsity' parameter of sparse must be a float in [0, 1). Got 1.0 instead.",
        ),
        ("sparse(sparsity=-0.1)", "The 'sparsity' parameter of sparse must be a float in [0, 1)."),
        (
            "variance_scaling(mode=fan_mean)",
            "The 'mode' parameter of variance_scaling must be "
            "one of 'fan_in', 'fan_out', 'fan_avg'. Got 'fan_mean' instead.",
        ),
        (
            "variance_scaling(distribution=gauss)",
            "The 'distribution' parameter of "
            "variance_scaling must be one of 'normal', 'truncated_normal', 'uniform'.",
        ),
        (
            "variance_scaling(scale=0)",
            "The 'scale' parameter of variance_scaling must be a float > 0.",
        ),
        (
            "he_normal(nonlinearity=relu7)",
            "The 'nonlinearity' parameter of he_normal must be one of ",
        ),
        (
            "he_uniform(mode=fan_avg)",
            "The 'mode' parameter of he_uniform must be one of "
            "'fan_in', 'fan_out'. Got 'fan_avg' instead.",
        ),
        (
            "glorot_uniform(gain=0)",
            "The 'gain' parameter of glorot_uniform must be a float > 0. Got 0 instead.",
        ),
        ("orthogonal(gain=-1)", "The 'gain' parameter of orthogonal must be a float > 0."),
        ("identity(gain=0)", "The 'gain' parameter of identity must be a float > 0."),
        (
            "uniform(low=1, high=0)",
            "The 'high' parameter of uniform must be > low = 1. Got 0 instead.",
        ),
        ("truncated_normal(a=1, b=1)", "The 'b' parameter of truncated_normal must be > a = 1."),
        ("lsuv(tol=0)", "The 'tol' parameter of lsuv must be a float > 0. Got 0 instead."),
        ("lsuv(max_iter=2.5)", "The 'max_iter' parameter of lsuv must be an int >= 1."),
        (
            "sklearn_mlp(activation=softmax)",
            "The 'activation' parameter of sklearn_mlp must be one of ",
        ),
        ("normal(std=float('nan'))", "must be a literal"),
        ("normal(10)", "must be a name optionally followed by keyword arguments"),
    ],
)
def test_spec_errors(spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        get_initializer(spec)


def test_unknown_name_lists_every_name_and_alias():
    with pytest.raises(ValueError) as info:
        get_initializer("nrmal")
    for row in list_initializers():
        for name in (row["name"], *row["aliases"]):
            assert name in str(info.value)


def test_get_initializer_accepts_initializers_and_callables():
    init = get_initializer("he_normal")
    assert get_initializer(init) is init

    def signs(rng, shape, dtype):
        return np.sign(rng.standard_normal(shape))

    wrapped = get_initializer(signs)
    assert isinstance(wrapped, Initializer) and wrapped.name == "signs"
    assert repr(wrapped) == "Initializer('signs')"
    W = wrapped(np.random.default_rng(0), (3, 4), np.float32)
    assert W.dtype == np.float32 and W.shape == (3, 4)
    assert wrapped.bias(np.random.default_rng(0), (3, 4)).shape == (3,)
    with pytest.raises(ValueError, match="returned an array of shape"):
        get_initializer(lambda rng, shape, dtype: np.zeros(3))(np.random.default_rng(0), (2, 2))
    with pytest.raises(ValueError, match="'init' parameter must be a spec string"):
        get_initializer(3.0)


def test_spec_omits_defaults_and_keeps_given_values():
    init = get_initializer("normal(std=10)")
    assert repr(init) == "Initializer('normal(std=10)')"
    assert init.params == {"std": 10, "mean": 0.0}
    assert get_initializer("normal(std=1.0)").spec == "normal"
    assert get_initializer("xavier_uniform(gain=2)").spec == "glorot_uniform(gain=2)"
    assert inits.normal(std=np.float64(0.5)).spec == "normal(std=0.5)"  # a literal, not np.float64
    assert get_initializer("lsuv").params == {"tol": 0.1, "max_iter": 10}


def test_engine_style_activation_filling():
    # A model fills `activation` when the spec leaves it unset (initlab.engine does this).
    name, kwargs = parse_spec("sklearn_mlp")
    factory = INITIALIZERS.entry(name).factory
    assert "activation" in inspect.signature(factory).parameters
    assert factory(**kwargs, activation="sigmoid").params == {"activation": "sigmoid"}


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------


@pytest.fixture
def restore_registry():
    entries, names = dict(INITIALIZERS._entries), dict(INITIALIZERS._names)
    yield
    INITIALIZERS._entries.clear()
    INITIALIZERS._entries.update(entries)
    INITIALIZERS._names.clear()
    INITIALIZERS._names.update(names)


def _scaled_sign(scale=0.1, *, offset=0.0):
    def init(rng, shape, dtype):
        return scale * np.sign(rng.standard_normal(shape)) + offset

    return init


def test_register_initializer_round_trip(restore_registry):
    register_initializer(
        "scaled_sign",
        _scaled_sign,
        aliases=("sign_init",),
        formula="W = scale sign(N(0, 1)) + offset",
        reference="a test",
    )
    init = get_initializer("sign_init(scale=0.5)")
    assert repr(init) == "Initializer('scaled_sign(scale=0.5)')"
    assert init.params == {"scale": 0.5, "offset": 0.0}
    W = init(np.random.default_rng(0), (20, 30), np.float32)
    assert W.dtype == np.float32 and set(np.unique(W)) == {np.float32(-0.5), np.float32(0.5)}
    assert pickle.loads(pickle.dumps(init)) == init
    row = next(r for r in list_initializers() if r["name"] == "scaled_sign")
    assert row == {
        "name": "scaled_sign",
        "aliases": ["sign_init"],
        "formula": "W = scale sign(N(0, 1)) + offset",
        "reference": "a test",
        "parameters": {"scale": 0.1, "offset": 0.0},
        "data_dependent": False,
        "draws_bias": False,
    }
    with pytest.raises(
        ValueError, match=r"Unknown parameter 'shift'.*Valid parameters: scale, offset"
    ):
        get_initializer("scaled_sign(shift=1)")


def test_register_initializer_overwrite_protection(restore_registry):
    with pytest.raises(ValueError, match="'normal' is already registered"):
        register_initializer("normal", _scaled_sign)
    with pytest.raises(ValueError, match="'kaiming_normal' is already registered"):
        register_initializer("mine", _scaled_sign, aliases=("kaiming_normal",))
    register_initializer("normal", _scaled_sign, overwrite=True)
    assert get_initializer("normal").params == {"scale": 0.1, "offset": 0.0}


def test_register_initializer_validates(restore_registry):
    with pytest.raises(ValueError, match="must be a Python identifier"):
        register_initializer("my-init", _scaled_sign)
    with pytest.raises(ValueError, match="'factory' parameter must be callable"):
        register_initializer("my_init", 3)
    register_initializer("not_callable", lambda: 3)
    with pytest.raises(ValueError, match="must return a callable"):
        get_initializer("not_callable")


def test_list_initializers_covers_every_registered_name():
    rows = list_initializers()
    assert [r["name"] for r in rows] == INITIALIZERS.names()
    for row in rows:
        assert set(row) == {
            "name",
            "aliases",
            "formula",
            "reference",
            "parameters",
            "data_dependent",
            "draws_bias",
        }
    expected = {
        "zeros", "ones", "constant", "uniform", "normal", "truncated_normal", "variance_scaling",
        "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
        "lecun_uniform", "orthogonal", "identity", "sparse", "zero_hadamard", "torch_linear",
        "keras_dense", "sklearn_mlp", "flax_dense", "lsuv",
    }  # fmt: skip
    assert expected <= set(INITIALIZERS.names())


def test_public_names():
    for name in inits.__all__:
        assert hasattr(inits, name)
    assert inits.xavier_uniform is inits.glorot_uniform
    assert inits.kaiming_normal is inits.he_normal
