"""Named datasets: deterministic given random_state, the documented shapes, clear errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from initlab import list_datasets, load_dataset

RANDOM = ["circles", "moons", "xor", "spiral", "gaussians"]


@pytest.mark.parametrize("name", RANDOM)
def test_same_seed_same_points(name):
    a = load_dataset(name, n_samples=50, random_state=7)
    b = load_dataset(name, n_samples=50, random_state=7)
    c = load_dataset(name, n_samples=50, random_state=8)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # A Generator works too, and never touches NumPy's global state.
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checking it is untouched)
    load_dataset(name, n_samples=50, random_state=np.random.default_rng(0))
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@pytest.mark.parametrize("name", list_datasets())
def test_shapes_and_labels(name):
    X, y = load_dataset(name)
    assert X.ndim == 2 and X.dtype == np.float64 and y.shape == (len(X),)
    assert y.dtype == np.int64 and y.min() == 0 and len(np.unique(y)) >= 2
    assert np.isfinite(X).all()


def test_iris2_is_the_textbook_data():
    X, y = load_dataset("iris2")
    assert X.shape == (100, 2) and y.tolist() == [0] * 50 + [1] * 50
    assert X[0].tolist() == [5.1, 1.4] and X[50].tolist() == [7.0, 4.7]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 200), seed=st.integers(0, 2**31 - 1))
def test_xor_labels_follow_the_quadrants(n, seed):
    X, y = load_dataset("xor", n_samples=n, random_state=seed)
    assert len(X) == n
    assert np.array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(int))


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="Unknown dataset 'mnist'. Valid datasets: circles"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="Unknown argument 'noise' for dataset 'iris2'"):
        load_dataset("iris2", noise=0.1)
    n_samples = r"The 'n_samples' parameter of load_dataset\('circles'\) must be an int >= 2"
    with pytest.raises(ValueError, match=n_samples):
        load_dataset("circles", n_samples=-3)
    noise = r"The 'noise' parameter of load_dataset\('moons'\) must be a float >= 0"
    with pytest.raises(ValueError, match=noise):
        load_dataset("moons", noise=-1)
