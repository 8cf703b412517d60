"""The Python entry points under hostile input: estimators, data, specs, sweeps, stores, studies.

Each case must raise a ValueError (scikit-learn's NotFittedError is one) whose message is at
most three lines and names the parameter, and must write nothing: the cases that touch the disk
run in a folder whose tree and bytes are compared before and after. Hypothesis generates spec
strings and sweep specs: the parsers either accept them or refuse them with such a ValueError,
never another exception.
"""

from __future__ import annotations

import math
import sqlite3
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import initlab
from initlab import (
    LogisticRegression,
    MLPClassifier,
    Perceptron,
    calculate_gain,
    collapse,
    diagnose,
    get_initializer,
    load_dataset,
)
from initlab.activations import ACTIVATIONS, get_activation
from initlab.datasets import load_csv, train_test
from initlab.initializers import INITIALIZERS
from initlab.sweep import Store, load_spec, sweep
from test_hostile_cli import snapshot

X, Y = load_dataset("circles", n_samples=60, noise=0.05, random_state=1)
X3 = np.vstack([X, X[:10] + 3])
Y3 = np.concatenate([Y, np.full(10, 2)])
XNAN = X.copy()
XNAN[3, 1] = np.nan
GRID = {"dataset": "xor", "dataset_args": {"n_samples": 40}, "hidden": [4], "iterations": 10}


def mlp(**kw):
    return lambda: MLPClassifier(max_iter=5, **kw).fit(X, Y)


CASES = {
    # estimators: every parameter, checked in fit before any work
    "mlp dtype floaty": (mlp(dtype="floaty"), "'dtype'"),
    "mlp dtype None": (mlp(dtype=None), "'dtype'"),
    "mlp dtype int": (mlp(dtype="int64"), "'dtype'"),
    "mlp dtype float16": (mlp(dtype=np.float16), "'dtype'"),
    "mlp hidden 0": (lambda: MLPClassifier(hidden_layer_sizes=(0,)).fit(X, Y), "'hidden_layer"),
    "mlp hidden -1": (lambda: MLPClassifier(hidden_layer_sizes=(-1,)).fit(X, Y), "'hidden_layer"),
    "mlp hidden str": (lambda: MLPClassifier(hidden_layer_sizes=("a",)).fit(X, Y), "'hidden_lay"),
    "mlp hidden nan": (lambda: MLPClassifier(hidden_layer_sizes=(math.nan,)).fit(X, Y), "'hidde"),
    "mlp hidden huge": (
        lambda: MLPClassifier(hidden_layer_sizes=(10**6, 10**6)).fit(X, Y),
        "INITLAB_MAX_MEMORY",
    ),
    "mlp max_iter 0": (lambda: MLPClassifier(max_iter=0).fit(X, Y), "'max_iter'"),
    "mlp max_iter 1e11": (lambda: MLPClassifier(max_iter=10**11).fit(X, Y), "iterations"),
    "mlp max_iter float": (lambda: MLPClassifier(max_iter=5.5).fit(X, Y), "'max_iter'"),
    "mlp lr nan": (mlp(learning_rate=math.nan), "'learning_rate'"),
    "mlp lr inf": (mlp(learning_rate=math.inf), "'learning_rate'"),
    "mlp lr -1": (mlp(learning_rate=-1), "'learning_rate'"),
    "mlp lr str": (mlp(learning_rate="0.1"), "'learning_rate'"),
    "mlp lr huge int": (mlp(learning_rate=10**400), "'learning_rate'"),
    "mlp batch 0": (mlp(batch_size=0), "'batch_size'"),
    "mlp alpha nan": (mlp(alpha=math.nan), "'alpha'"),
    "mlp momentum 1": (mlp(momentum=1.0), "'momentum'"),
    "mlp beta_1 inf": (mlp(beta_1=math.inf), "'beta_1'"),
    "mlp beta_2 -1": (mlp(beta_2=-1), "'beta_2'"),
    "mlp epsilon 0": (mlp(epsilon=0), "'epsilon'"),
    "mlp snapshot 0": (mlp(snapshot_every=0), "'snapshot_every'"),
    "mlp solver": (mlp(solver="lbfgs"), "'solver'"),
    "mlp init bogus": (mlp(init="bogus"), "'init'"),
    "mlp init int": (mlp(init=5), "'init'"),
    # random_state=0 draws at least one |z| > 1.8 in each: times 1e308 it is inf.
    "mlp init inf start": (
        mlp(init="normal(std=1e308)", random_state=0),
        "'init' parameter of MLPClassifier",
    ),
    "mlp init nan std": (mlp(init="normal(std=nan)"), "'std'"),
    "mlp bias inf": (mlp(bias_init="constant(value=inf)"), "'bias_init'"),
    "mlp bias inf start": (
        mlp(bias_init="normal(std=1e308)", random_state=0),
        "'bias_init' parameter",
    ),
    "mlp activation": (mlp(activation="relu7"), "'activation'"),
    "mlp slope abc": (mlp(activation="leaky_relu(slope=abc)"), "'slope'"),
    "mlp random_state -1": (mlp(random_state=-1), "'random_state'"),
    "mlp random_state 2**40": (mlp(random_state=2**40), "'random_state'"),
    "mlp random_state str": (mlp(random_state="seed"), "'random_state'"),
    "mlp X nan": (lambda: MLPClassifier(max_iter=5).fit(XNAN, Y), "NaN"),
    "mlp one class": (lambda: MLPClassifier(max_iter=5).fit(X, np.zeros(60)), "2 classes"),
    "mlp y continuous": (lambda: MLPClassifier(max_iter=5).fit(X, X[:, 0]), "continuous"),
    "mlp predict unfitted": (lambda: MLPClassifier().predict(X), "not fitted"),
    "mlp predict shape": (lambda: MLPClassifier(max_iter=5).fit(X, Y).predict(X[:, :1]), "feature"),
    "logistic dtype": (lambda: LogisticRegression(dtype="floaty").fit(X, Y), "'dtype'"),
    "logistic lr": (lambda: LogisticRegression(learning_rate=math.nan).fit(X, Y), "'learning_r"),
    "logistic max_iter": (lambda: LogisticRegression(max_iter=-1).fit(X, Y), "'max_iter'"),
    "perceptron eta nan": (lambda: Perceptron(eta=math.nan).fit(X, Y), "'eta'"),
    "perceptron eta 0": (lambda: Perceptron(eta=0).fit(X, Y), "'eta'"),
    "perceptron eta inf": (lambda: Perceptron(eta=math.inf).fit(X, Y), "'eta'"),
    "perceptron n_iter 0": (lambda: Perceptron(n_iter=0).fit(X, Y), "'n_iter'"),
    "perceptron n_iter huge": (lambda: Perceptron(n_iter=10**12).fit(X, Y), "epochs"),
    "perceptron init": (lambda: Perceptron(init="bogus").fit(X, Y), "'init'"),
    "perceptron inf start": (
        # RandomState(2).standard_normal(3)[2] is -2.14: times 1e308 it is -inf.
        lambda: Perceptron(init="normal(std=1e308)", random_state=2).fit(X, Y),
        "'init' parameter of Perceptron",
    ),
    "uniform range overflows": (
        lambda: get_initializer("uniform(low=-1.7e308, high=1.7e308)"),
        "'high' parameter of uniform",
    ),
    "perceptron 3 classes": (lambda: Perceptron().fit(X3, Y3), "exactly 2 classes"),
    # data
    "dataset name": (lambda: load_dataset("mnist"), "Unknown dataset 'mnist'"),
    "dataset n_samples 1": (lambda: load_dataset("circles", n_samples=1), "'n_samples'"),
    "dataset n_samples float": (lambda: load_dataset("moons", n_samples=1.5), "'n_samples'"),
    "dataset n_samples huge": (lambda: load_dataset("xor", n_samples=5 * 10**9), "samples"),
    "dataset noise nan": (lambda: load_dataset("moons", noise=math.nan), "'noise'"),
    "dataset factor 1": (lambda: load_dataset("circles", factor=1), "'factor'"),
    "dataset n_classes 1": (lambda: load_dataset("spiral", n_classes=1), "'n_classes'"),
    "dataset n_features 0": (lambda: load_dataset("gaussians", n_features=0), "'n_features'"),
    "dataset cluster_std 0": (lambda: load_dataset("gaussians", cluster_std=0), "'cluster_std'"),
    "dataset n_class 11": (lambda: load_dataset("digits", n_class=11), "'n_class'"),
    "dataset random_state": (lambda: load_dataset("xor", random_state=2**40), "'random_state'"),
    "dataset unknown arg": (lambda: load_dataset("iris2", noise=0.1), "'noise'"),
    "train_test test_size": (lambda: train_test("iris2", test_size=1), "'test_size'"),
    "train_test data_seed": (lambda: train_test(data_seed=-1), "'data_seed'"),
    "train_test test_samples": (lambda: train_test(test_samples=-1), "'test_samples'"),
    "train_test data missing": (lambda: train_test(data="missing.csv"), "'path'"),
    "load_csv folder": (lambda: load_csv("."), "folder"),
    # specs
    "init spec": (lambda: get_initializer("normal(std=inf)"), "'std'"),
    "init spec long": (lambda: get_initializer("x" * 5000), "1000 characters"),
    "init spec number": (lambda: get_initializer(5), "5"),
    "init spec repeat": (lambda: get_initializer("normal(std=1, std=2)"), "twice"),
    "init spec set": (lambda: get_initializer("normal(std={1})"), "'std'"),
    "init spec bytes": (lambda: get_initializer("normal(std=b'1')"), "'std'"),
    "activation slope": (lambda: get_activation("leaky_relu(slope=nan)"), "'slope'"),
    "activation alpha": (lambda: get_activation("elu(alpha=inf)"), "'alpha'"),
    "activation none": (lambda: get_activation(None), "activation"),
    "gain param": (lambda: calculate_gain("leaky_relu", param=math.nan), "'param'"),
    "gain name": (lambda: calculate_gain("relu7"), "relu7"),
    "diagnose model": (lambda: diagnose(object(), X, Y), "'model'"),
    "diagnose atol": (lambda: diagnose(MLPClassifier(), X, Y, atol=math.nan), "'atol'"),
    "diagnose rtol": (lambda: diagnose(MLPClassifier(), X, Y, rtol=-1), "'rtol'"),
    "collapse unfitted": (lambda: collapse(MLPClassifier()), "'model'"),
    "meanfield sigma_w": (lambda: initlab.meanfield.analyze("tanh", sigma_w=math.nan), "sigma_w"),
    "study name": (lambda: initlab.run_study("nope"), "Unknown study 'nope'"),
    "study size": (lambda: initlab.run_study("symmetry", size="huge"), "'size'"),
    # sweep specs (the loader's own table-driven tests are in test_sweep_spec.py)
    "spec seed range huge": (lambda: load_spec({"grid": {**GRID, "seed": {"stop": 2.5}}}), "seed"),
    "spec random_state": (
        lambda: load_spec({"grid": {**GRID, "dataset_args": {"random_state": 2**40}}}),
        "random_state",
    ),
    "spec big int lr": (lambda: load_spec({"grid": {**GRID, "learning_rate": 10**400}}), "'lear"),
    "spec dtype None": (lambda: load_spec({"grid": {**GRID, "dtype": None}}), "'dtype'"),
    "spec not a dict": (lambda: load_spec(["grid"]), "table"),
    "spec path missing": (lambda: load_spec("missing.toml"), "'source'"),
}

DISK = {
    "sweep chunk_size": (lambda: sweep({"grid": GRID}, store="s.sqlite", chunk_size=0), "'chunk"),
    "sweep backend": (lambda: sweep({"grid": GRID}, store="s.sqlite", backend="cuda"), "'backe"),
    "sweep foreign store": (lambda: sweep({"grid": GRID}, store="foreign.sqlite"), "not an init"),
    "sweep store folder": (lambda: sweep({"grid": GRID}, store="."), "folder"),
    "sweep store missing folder": (lambda: sweep({"grid": GRID}, store="no/s.sqlite"), "folder"),
    "sweep too big": (
        lambda: sweep({"grid": {**GRID, "seed": {"stop": 10**8}}}, store="s.sqlite"),
        "100,000,000 configurations",
    ),
    "store path": (lambda: Store(5), "'path'"),
    "store timeout": (lambda: Store("s.sqlite", timeout=math.nan), "'timeout'"),
    "store foreign sweeps": (lambda: Store("foreign.sqlite").sweeps(), "not an initlab store"),
    "store foreign frame": (lambda: Store("foreign.sqlite").frame(), "not an initlab store"),
    "store missing": (lambda: Store("missing.sqlite").sweeps(), "No such store"),
    "store export folder": (lambda: Store("foreign.sqlite").export("."), "'path'"),
    "store export suffix": (lambda: Store("foreign.sqlite").export("x.xlsx"), "'path'"),
}


def _check(fn, needle):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a DivergedWarning is not what is tested here
        with pytest.raises(ValueError) as info:
            fn()
    text = str(info.value)
    assert 1 <= len(text.strip().splitlines()) <= 3, text
    assert needle in text, (needle, text)


def test_the_api_corpus_is_large():
    assert len(CASES) + len(DISK) >= 100


# Reliability: One-line errors (the Python API). Reliability: Too big for this machine.
@pytest.mark.parametrize("name", list(CASES))
def test_python_entry_points_refuse_by_name(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fn, needle = CASES[name]
    before = snapshot(tmp_path)
    _check(fn, needle)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", list(DISK))
def test_sweeps_and_stores_refuse_by_name_and_write_nothing(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    con = sqlite3.connect(tmp_path / "foreign.sqlite")
    con.execute("CREATE TABLE people (name TEXT)")
    con.commit()
    con.close()
    fn, needle = DISK[name]
    before = snapshot(tmp_path)
    _check(fn, needle)
    assert snapshot(tmp_path) == before
    with sqlite3.connect(tmp_path / "foreign.sqlite") as con:  # the foreign file: untouched
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


# --- generated input ------------------------------------------------------------------------

NAMES = sorted({*INITIALIZERS._names, *ACTIVATIONS._names, "bogus", "", "normal.x"})
KEYS = [
    "std",
    "mean",
    "gain",
    "a",
    "mode",
    "scale",
    "slope",
    "alpha",
    "value",
    "low",
    "high",
    "sparsity",
    "tol",
    "max_iter",
    "nonlinearity",
    "distribution",
    "activation",
    "x",
]
LITERALS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from(
        [
            "fan_in",
            "fan_out",
            "relu",
            "tanh",
            "abc",
            "''",
            "None",
            "True",
            "nan",
            "inf",
            "1e999",
            "-1e999",
            "(1, 2)",
            "[]",
            "{}",
            "b'x'",
            "1j",
            "...",
        ]
    ),
)


@st.composite
def spec_strings(draw):
    name = draw(st.sampled_from(NAMES))
    items = draw(st.lists(st.tuples(st.sampled_from(KEYS), LITERALS), max_size=3))
    if not items and draw(st.booleans()):
        return name
    args = ", ".join(f"{k}={v!r}" if not isinstance(v, str) else f"{k}={v}" for k, v in items)
    return f"{name}({args})"


def _refused_or_built(build, spec):
    try:
        built = build(spec)
    except ValueError as exc:
        assert 1 <= len(str(exc).strip().splitlines()) <= 3, str(exc)
        return None
    return built


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(spec=st.one_of(spec_strings(), st.text(max_size=40)))
def test_spec_strings_are_built_or_refused_with_a_value_error(spec):
    init = _refused_or_built(get_initializer, spec)
    if init is not None:  # a scheme that builds draws an array of the shape asked
        W = init(np.random.default_rng(0), (3, 4), np.float64)
        assert W.shape == (3, 4)
    act = _refused_or_built(get_activation, spec)
    if act is not None:
        a = act(np.linspace(-2.0, 2.0, 5))
        assert a.shape == (5,) and np.isfinite(a).all()
        gain = _refused_or_built(calculate_gain, spec)
        assert gain is None or math.isfinite(gain)


DATASET = st.sampled_from(["xor", "xor", "xor", "circles", "mnist", 3, None])
GRID_VALUES = {
    "dataset_args": st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "n_samples": st.one_of(st.integers(-5, 60), st.just(10**12)),
                "noise": st.floats(allow_nan=True),
                "random_state": st.integers(-5, 2**40),
            },
        ),
        st.just([]),
        st.just("x"),
    ),
    "hidden": st.one_of(
        st.lists(st.integers(-2, 5), max_size=3),
        st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=2), max_size=2),
        st.just([10**25]),
        st.just("10"),
    ),
    "activation": st.one_of(spec_strings(), st.sampled_from(["relu", "tanh"])),
    "init": st.one_of(spec_strings(), st.sampled_from(["he_normal", "zeros", "auto"])),
    "learning_rate": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(10**400)),
    "batch_size": st.one_of(st.integers(-3, 10**30), st.sampled_from(["full", "half", None])),
    "iterations": st.one_of(st.integers(-3, 20), st.just(10**20)),
    "momentum": st.floats(allow_nan=True, allow_infinity=True),
    "dtype": st.sampled_from(["float64", "float32", "floaty", None, 5, "f8"]),
    "seed": st.one_of(
        st.integers(-3, 2**70),
        st.lists(st.integers(0, 5), max_size=3),
        st.fixed_dictionaries({"stop": st.integers(-5, 10**9)}),
    ),
    "width": st.just(3),
}


@settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    grid=st.fixed_dictionaries({"dataset": DATASET}, optional=GRID_VALUES),
    record=st.fixed_dictionaries(
        {},
        optional={
            "target_accuracy": st.floats(allow_nan=True, allow_infinity=True),
            "curve_every": st.integers(-2, 10**12),
            "metrics": st.lists(st.sampled_from(["final_loss", "curve", "loss"]), max_size=2),
        },
    ),
    seed=st.one_of(st.integers(-2, 2**80), st.floats(allow_nan=True)),
)
def test_sweep_specs_are_loaded_or_refused_with_a_value_error(grid, record, seed):
    try:
        spec = load_spec({"grid": grid, "record": record, "seed": seed})
    except ValueError as exc:
        assert 1 <= len(str(exc).strip().splitlines()) <= 3, str(exc)
        event("refused")
        return
    event("accepted")
    # Accepted: the size is known without expanding, and the estimate refuses what is too big.
    n = len(spec)
    assert n == math.prod(len(v) for v in spec.grid.values()) >= 1
    from initlab._resources import sweep_estimate

    est = sweep_estimate(spec)
    assert est["configs"] == n and est["memory"] > 0


# Reliability: Too big for this machine (a huge grid, counted and refused).
def test_a_huge_grid_is_refused_without_being_expanded(tmp_path):
    # Expanding 10**7 seeds took about 12 minutes and 10 GB before the fix; here 10**12 are
    # counted (a product of axis lengths) and refused by the estimate with nothing built.
    spec = load_spec({"grid": {**GRID, "seed": {"stop": 10**12}}})
    assert len(spec) == 10**12 and isinstance(spec.grid["seed"], range)
    with pytest.raises(ValueError, match="1,000,000,000,000 configurations"):
        sweep(spec, store=tmp_path / "s.sqlite")
    assert "_configs" not in vars(spec)  # no Config was built
    assert list(tmp_path.iterdir()) == []
