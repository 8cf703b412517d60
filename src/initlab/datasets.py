"""Named datasets, deterministic given ``random_state``.

Each loader returns ``(X, y)``: X of shape (m, n_features), float64, sample-major; y of shape
(m,), integer class labels 0 .. n_classes - 1.

=========  ===================================================================================
circles    two concentric noisy circles; the same points as sklearn.datasets.make_circles
moons      two interleaving half circles (sklearn.datasets.make_moons)
xor        points uniform in [-1, 1]^2, class 1 where x1 * x2 > 0
spiral     interleaved arms of a spiral (the CS231n toy data), two classes by default
gaussians  isotropic Gaussian blobs (sklearn.datasets.make_blobs)
iris2      the first 100 rows of Iris: sepal length and petal length, setosa (0) vs versicolor (1)
digits     8x8 handwritten digits scaled to [0, 1] (sklearn.datasets.load_digits)
=========  ===================================================================================
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import datasets as _sk

from ._random import check_random_state

__all__ = ["DATASETS", "list_datasets", "load_dataset"]


def _legacy_state(random_state: Any) -> np.random.RandomState:
    """scikit-learn's generators take a RandomState; a Generator seeds one with one draw."""
    rng = check_random_state(random_state)
    if isinstance(rng, np.random.Generator):
        return np.random.RandomState(int(rng.integers(0, 2**32)))
    return rng


def circles(
    n_samples: int = 300, noise: float = 0.05, factor: float = 0.8, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: the points of ``sklearn.datasets.make_circles`` with these
    arguments (the defaults are the Coursera Deep Learning Specialization's training set, whose
    ``np.random.seed(1)`` is ``random_state=1``)."""
    X, y = _sk.make_circles(
        n_samples=n_samples, noise=noise, factor=factor, random_state=_legacy_state(random_state)
    )
    return X, y.astype(np.int64)


def moons(
    n_samples: int = 300, noise: float = 0.1, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (``sklearn.datasets.make_moons``)."""
    X, y = _sk.make_moons(
        n_samples=n_samples, noise=noise, random_state=_legacy_state(random_state)
    )
    return X, y.astype(np.int64)


def xor(
    n_samples: int = 300, noise: float = 0.0, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in [-1, 1]^2; class 1 where x1 * x2 > 0 (first and third quadrants).

    ``noise`` adds N(0, noise^2) to the coordinates after labelling.
    """
    rng = check_random_state(random_state)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    if noise:
        X = X + noise * rng.standard_normal(X.shape)
    return X, y


def spiral(
    n_samples: int = 300, n_classes: int = 2, noise: float = 0.2, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms (CS231n): arm j has radius r in [0, 1] and angle
    4 j + 4 r + noise * N(0, 1); the samples are split evenly between the arms."""
    if n_classes < 2:
        raise ValueError(f"The 'n_classes' parameter must be >= 2. Got {n_classes} instead.")
    rng = check_random_state(random_state)
    counts = [n_samples // n_classes + (j < n_samples % n_classes) for j in range(n_classes)]
    Xs, ys = [], []
    for j, n in enumerate(counts):
        r = np.linspace(0.0, 1.0, n)
        t = np.linspace(4.0 * j, 4.0 * (j + 1), n) + noise * rng.standard_normal(n)
        Xs.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        ys.append(np.full(n, j, dtype=np.int64))
    return np.concatenate(Xs), np.concatenate(ys)


def gaussians(
    n_samples: int = 300,
    n_classes: int = 2,
    n_features: int = 2,
    cluster_std: float = 1.0,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs, one per class (``sklearn.datasets.make_blobs``)."""
    X, y = _sk.make_blobs(
        n_samples=n_samples,
        centers=n_classes,
        n_features=n_features,
        cluster_std=cluster_std,
        random_state=_legacy_state(random_state),
    )
    return X, y.astype(np.int64)


def iris2() -> tuple[np.ndarray, np.ndarray]:
    """The perceptron textbook's data: rows 0-99 of scikit-learn's Iris (setosa, versicolor),
    columns sepal length and petal length (cm); y = 0 for setosa, 1 for versicolor.

    Raschka's *Python Machine Learning* encodes setosa as -1 and versicolor as 1;
    :class:`initlab.Perceptron` maps the first class to -1 and the second to 1, so its updates
    are the book's.
    """
    iris = _sk.load_iris()
    return iris.data[:100][:, [0, 2]].copy(), iris.target[:100].astype(np.int64)


def digits(n_class: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """8x8 images of handwritten digits 0 .. n_class - 1, pixels scaled from 0..16 to [0, 1]."""
    X, y = _sk.load_digits(n_class=n_class, return_X_y=True)
    return X / 16.0, y.astype(np.int64)


DATASETS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "circles": circles,
    "moons": moons,
    "xor": xor,
    "spiral": spiral,
    "gaussians": gaussians,
    "iris2": iris2,
    "digits": digits,
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_dataset`."""
    return list(DATASETS)


def load_dataset(name: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Load a named dataset; ``kwargs`` go to its loader.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.
    **kwargs
        The loader's arguments (``n_samples``, ``noise``, ``random_state``, ...).

    Returns
    -------
    X : ndarray of shape (m, n_features)
    y : ndarray of shape (m,), int labels

    Raises
    ------
    ValueError
        For an unknown name or argument, naming the valid ones.

    Examples
    --------
    >>> X, y = load_dataset("circles", n_samples=300, noise=0.05, random_state=1)
    >>> X.shape, int(y.sum())
    ((300, 2), 150)
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}. Valid datasets: {', '.join(DATASETS)}.")
    loader = DATASETS[name]
    allowed = list(inspect.signature(loader).parameters)
    for key in kwargs:
        if key not in allowed:
            raise ValueError(
                f"Unknown argument {key!r} for dataset {name!r}. Valid arguments: "
                f"{', '.join(allowed) or 'none'}."
            )
    n = kwargs.get("n_samples")
    if n is not None and (not isinstance(n, int | np.integer) or n < 2):
        raise ValueError(f"The 'n_samples' parameter must be an int >= 2. Got {n!r} instead.")
    noise = kwargs.get("noise")
    if noise is not None and not noise >= 0:
        raise ValueError(f"The 'noise' parameter must be a float >= 0. Got {noise!r} instead.")
    return loader(**kwargs)
