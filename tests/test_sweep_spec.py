"""Sweep specs: expansion, normalization, stable keys and seeds, and errors that name the key."""

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from initlab.sweep import GRID_KEYS, METRICS, load_spec

COURSE = Path(__file__).parents[1] / "examples" / "course.toml"
COURSE_DICT = {
    "name": "course",
    "grid": {
        "dataset": "circles",
        "dataset_args": {"n_samples": 300, "noise": 0.05, "random_state": 1},
        "hidden": [[10, 5]],
        "activation": ["relu", "tanh", "sigmoid"],
        "init": ["zeros", "normal(std=10)", "he_normal"],
        "learning_rate": 0.01,
        "iterations": 15000,
        "seed": {"start": 0, "stop": 20},
    },
    "record": {"target_accuracy": 0.9, "curve_every": 100},
}


def grid(**kw):
    return {"grid": {"dataset": "circles", "iterations": 10, **kw}}


def test_course_grid_expands_to_180_in_documented_order():
    spec = load_spec(COURSE)
    configs = spec.configs()
    assert len(spec) == len(configs) == 3 * 3 * 20
    assert list(spec.axes) == ["hidden", "activation", "init", "seed"]
    # Keys in GRID_KEYS order, the last (seed) fastest.
    first = [(c["activation"], c["init"], c["seed"]) for c in configs[:21]]
    assert first[:20] == [("relu", "zeros", s) for s in range(20)]
    assert first[20] == ("relu", "normal(std=10.0)", 0)
    assert configs[-1]["activation"] == "sigmoid" and configs[-1]["init"] == "he_normal"
    assert spec.record.target_accuracy == 0.9 and spec.record.curve_every == 100
    assert spec.record.metrics == METRICS
    assert "course" in repr(spec) and "configs=180" in repr(spec)


def test_normalized_config_has_every_key_and_defaults():
    c = load_spec(COURSE).configs()[0].config
    assert set(c) == {*GRID_KEYS, "sweep_seed"}
    assert c["dataset_args"] == {"n_samples": 300, "noise": 0.05, "factor": 0.8, "random_state": 1}
    assert c["batch_size"] is None and c["bias_init"] == "auto" and c["dtype"] == "float64"
    assert isinstance(c["learning_rate"], float) and c["hidden"] == [10, 5]


def test_toml_and_dict_give_the_same_configs():
    assert load_spec(COURSE).configs() == load_spec(COURSE_DICT).configs()
    assert [c.key for c in load_spec(COURSE).configs()] == [
        c.key for c in load_spec(COURSE_DICT).configs()
    ]


def test_groups_share_everything_but_the_start():
    spec = load_spec(COURSE)
    groups = spec.groups()
    assert len(groups) == 3 and all(len(g) == 60 for g in groups.values())
    for members in groups.values():
        assert len({c["activation"] for c in members}) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("he_normal", "he_normal()"),
        ("he_normal", "kaiming_normal"),
        ("normal(std=10)", "normal(std=10.0)"),
        ("normal(std=10)", "normal(mean=0, std=1e1)"),
    ],
)
def test_keys_do_not_depend_on_spelling(a, b):
    ka = load_spec(grid(init=a)).configs()[0]
    kb = load_spec(grid(init=b)).configs()[0]
    assert (ka.key, ka.seed) == (kb.key, kb.seed)


def test_keys_do_not_depend_on_dict_order_or_spelling_of_other_keys():
    a = load_spec(grid(activation="logistic", batch_size=0, learning_rate=1, dtype="float64"))
    b = {"grid": {"dtype": "float64", "learning_rate": 1.0, "batch_size": "full"}}
    b["grid"].update(activation="sigmoid", iterations=10, dataset="circles")
    assert a.configs()[0].key == load_spec(b).configs()[0].key


def test_a_config_has_the_same_key_and_seed_in_a_bigger_grid():
    small = load_spec(grid(activation="tanh", init="he_normal", seed=7))
    big = load_spec(
        grid(
            activation=["relu", "tanh"], init=["zeros", "he_normal"], seed={"start": 0, "stop": 10}
        )
    )
    (c,) = small.configs()
    assert c in big.configs()
    match = [d for d in big.configs() if d.key == c.key]
    assert len(match) == 1 and match[0].seed == c.seed and match[0].json == c.json


def test_the_sweep_seed_changes_keys_and_seeds():
    a = load_spec(grid()).configs()[0]
    b = load_spec({**grid(), "seed": 1}).configs()[0]
    assert a.key != b.key and a.seed != b.seed
    assert 0 <= a.seed < 2**63


def test_test_set_and_lists_of_tables():
    spec = load_spec(
        grid(
            dataset_args=[{"noise": 0}, {"noise": 0.2}],
            test={"n_samples": 100, "random_state": 2},
        )
    )
    assert len(spec) == 2 and list(spec.axes) == ["dataset_args"]
    c = spec.configs()[0].config
    assert c["dataset_args"]["noise"] == 0.0 and isinstance(c["dataset_args"]["noise"], float)
    assert c["dataset_args"]["random_state"] == 0  # reproducible data, not None
    assert c["test"]["n_samples"] == 100


AXES = {
    "activation": ["relu", "tanh", "sigmoid", "elu", "selu"],
    "init": ["zeros", "he_normal", "normal(std=10)", "glorot_uniform", "orthogonal"],
    "learning_rate": [0.001, 0.01, 0.1, 1.0],
    "hidden": [[4], [10, 5], [3, 3, 3]],
    "solver": ["gd", "sgd", "adam"],
    "batch_size": [16, 32, "full"],
    "seed": list(range(6)),
}


@settings(max_examples=25, deadline=None)
@given(
    lengths=st.fixed_dictionaries({}, optional={k: st.integers(1, len(v)) for k, v in AXES.items()})
)
def test_number_of_configs_is_the_product_of_axis_lengths(lengths):
    spec = load_spec(grid(**{k: AXES[k][:n] for k, n in lengths.items()}))
    configs = spec.configs()
    assert len(configs) == math.prod(lengths.values())
    assert [len(v) for v in spec.axes.values()] == [lengths[k] for k in spec.axes]
    assert len({c.key for c in configs}) == len(configs)
    assert sum(len(g) for g in spec.groups().values()) == len(configs)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (grid(lr=0.1), r"Unknown key 'lr' in the sweep grid\. Allowed keys: dataset, dataset_args"),
        ({**grid(), "seeds": 1}, r"Unknown key 'seeds' in the sweep spec\. Allowed keys: name"),
        ({**grid(), "record": {"every": 1}}, r"Unknown key 'every' in the sweep record"),
        ({"grid": {}}, r"'dataset' key of the sweep grid is required .*an empty grid"),
        ({}, r"'dataset' key of the sweep grid is required"),
        (grid(dataset="mnist"), r"'dataset' parameter of the sweep grid must be one of 'circles'"),
        (grid(dataset_args={"n": 3}), r"unknown argument 'n' for dataset 'circles'\. Allowed"),
        (grid(dataset_args={"n_samples": 1}), r"'dataset_args' parameter .* invalid: .*n_samples"),
        (grid(dataset_args=[]), r"'dataset_args' parameter .* must be a table or a non-empty"),
        (grid(test={"n_samples": 300}), r"'test' parameter .* must differ from 'dataset_args'"),
        (grid(activation="relux"), r"'activation' parameter .* invalid: Unknown activation"),
        (grid(activation=[]), r"'activation' parameter .* non-empty list.*Got \[\]"),
        (grid(init="normal(sd=1)"), r"'init' parameter .* invalid: Unknown parameter 'sd'"),
        (grid(init="normal(std=-1)"), r"'init' parameter .* invalid: .*'std'.*>= 0"),
        (grid(init=3), r"'init' parameter of the sweep grid must be a spec string"),
        (
            grid(bias_init="nope"),
            r"'bias_init' parameter .* invalid: Unknown init .nope.. Valid names",
        ),
        (grid(init=["he_normal", "kaiming_normal"]), r"'init' axis .* lists 'he_normal' twice"),
        (grid(solver="lbfgs"), r"'solver' parameter .* must be one of 'gd', 'sgd', 'adam'"),
        (grid(learning_rate=0), r"'learning_rate' parameter .* must be a float > 0\. Got 0"),
        (grid(learning_rate=[0.1, -1]), r"'learning_rate' .* > 0\. Got -1 instead"),
        (grid(hidden=[[10, -5]]), r"'hidden' parameter .* must be an int >= 1\. Got -5"),
        (grid(hidden=[]), r"'hidden' parameter .* non-empty list of layer-size lists"),
        (grid(hidden="10"), r"'hidden' parameter .* must be a list of layer sizes"),
        (grid(batch_size=-1), r"'batch_size' parameter .* must be an int >= 1\. Got -1"),
        (grid(batch_size="half"), r"'batch_size' parameter .* 'full' / 0 / None"),
        (grid(iterations=0), r"'iterations' parameter .* must be an int >= 1\. Got 0"),
        (grid(momentum=1), r"'momentum' parameter .* in \[0, 1\)\. Got 1"),
        (grid(dtype="float16"), r"'dtype' parameter .* 'float64' or 'float32'\. Got 'float16'"),
        (grid(seed=-1), r"'seed' parameter .* must be an int >= 0\. Got -1"),
        (grid(seed={"start": 5, "stop": 5}), r"'seed' parameter .* non-empty range"),
        (grid(seed={"begin": 0, "stop": 5}), r"'seed' parameter .* range \{start, stop"),
        ({**grid(), "seed": 1.5}, r"'seed' parameter of the sweep spec must be an int >= 0"),
        (
            {**grid(), "record": {"target_accuracy": 0}},
            r"'target_accuracy' parameter of the sweep record must be a float in \(0, 1\]",
        ),
        ({**grid(), "record": {"curve_every": 0}}, r"'curve_every' .* must be an int >= 1"),
        ({**grid(), "record": {"metrics": ["loss"]}}, r"'metrics' .* must be one of 'final_loss'"),
        ({**grid(), "record": {"metrics": []}}, r"'metrics' .* must be a non-empty list"),
        (
            {**grid(), "record": {"metrics": ["test_accuracy"]}},
            r"lists 'test_accuracy', but the sweep grid has no 'test' set",
        ),
    ],
)
def test_bad_specs_are_refused_with_the_key_and_what_is_allowed(spec, match):
    with pytest.raises(ValueError, match=match):
        load_spec(spec)


def test_bad_toml_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[grid\n")
    with pytest.raises(ValueError, match=r"bad\.toml' is not valid TOML"):
        load_spec(path)


def test_name_defaults_to_the_file_stem(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[grid]\ndataset = "xor"\nbatch_size = "full"\n')
    spec = load_spec(str(path))
    assert spec.name == "mine" and len(spec) == 1 and spec.configs()[0]["batch_size"] is None
