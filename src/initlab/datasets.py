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
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import datasets as _sk

from ._random import check_random_state
from ._resources import check_memory, dataset_bytes
from ._validation import check_input_file, check_number, check_seed

__all__ = ["DATASETS", "list_datasets", "load_csv", "load_dataset", "train_test"]


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
    _check_loader_args(name, kwargs)
    return loader(**kwargs)
    return loader(**kwargs)


# (low, high, low_open, integer) of each loader argument that is a number.
_NUMBERS = {
    "n_samples": (2, None, False, True),
    "noise": (0, None, False, False),
    "factor": (0, 1, False, False),
    "n_classes": (2, None, False, True),
    "n_features": (1, None, False, True),
    "cluster_std": (0, None, True, False),
    "n_class": (2, 10, False, True),
}


def _check_loader_args(name: str, kwargs: dict[str, Any]) -> None:
    """Every numeric argument finite and in range, and the data small enough to fit."""
    owner = f"load_dataset({name!r})"
    for key, (low, high, low_open, integer) in _NUMBERS.items():
        if kwargs.get(key) is not None:
            check_number(
                owner, key, kwargs[key], integer=integer, low=low, high=high, low_open=low_open
            )
    if name == "circles" and kwargs.get("factor") == 1:
        raise ValueError(
            f"The 'factor' parameter of {owner} must be a float in [0, 1). Got 1 instead."
        )
    n = kwargs.get("n_samples")
    if n is not None:
        n_features = kwargs.get("n_features") or 2
        check_memory(
            dataset_bytes(int(n), int(n_features)), f"The dataset {name!r} ({n:,} samples)"
        )


def load_csv(path: str | Any) -> tuple[np.ndarray, np.ndarray]:
    """Read a data file: feature columns, then the label column; a header row is skipped.

    Parameters
    ----------
    path : str or path-like
        A CSV file with at least two rows and two columns. Every feature must be a finite
        number; labels are class labels (names or integers), at least two classes.

    Returns
    -------
    X : ndarray of shape (m, n_features), float64
    y : ndarray of shape (m,)

    Raises
    ------
    ValueError
        Naming the file and what is wrong: missing, unreadable or not text, too small, a
        missing or non-numeric feature (with its row and column), a missing label, labels that
        look continuous (a regression target), or a single class.
    """
    import pandas as pd

    file = check_input_file("load_csv", "path", path)
    shown = os.fspath(path)
    check_memory(20 * file.stat().st_size, f"Reading {shown!r}")
    with open(file, "rb") as f:
        head = f.read(4096)
    if b"\x00" in head:
        raise ValueError(f"{shown!r} is not a CSV file: it holds binary data.")
    try:
        frame = pd.read_csv(file, header=None, skip_blank_lines=True)
    except Exception as exc:  # pandas raises many kinds; the message is what matters
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{shown!r} cannot be read as CSV: {first}") from None
    first_row = pd.to_numeric(frame.iloc[0, :-1], errors="coerce")
    if first_row.isna().all():  # a header row
        frame = frame.iloc[1:]
    if frame.shape[1] < 2 or len(frame) < 2:
        raise ValueError(
            f"{shown!r} needs at least 2 rows and 2 columns (features, then the label). "
            f"Got {len(frame)} rows and {frame.shape[1]} columns."
        )
    features = frame.iloc[:, :-1].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    bad = np.argwhere(~np.isfinite(features))
    if len(bad):
        row, col = bad[0]
        raise ValueError(
            f"{shown!r} has a missing or non-numeric value at data row {row + 1}, column "
            f"{col + 1}; every feature must be a finite number."
        )
    labels = frame.iloc[:, -1].to_numpy()
    if pd.isna(labels).any():
        raise ValueError(f"{shown!r} has a missing label in its last column.")
    numeric = pd.to_numeric(pd.Series(labels), errors="coerce")
    if numeric.notna().all():
        values = numeric.to_numpy(dtype=float)
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            examples = ", ".join(f"{v:g}" for v in values[values != np.round(values)][:3])
            raise ValueError(
                f"{shown!r} has labels that look continuous (such as {examples}): initlab's "
                "models classify, so the last column must hold class labels (integers or names)."
            )
        labels = values.astype(np.int64)
    else:
        labels = labels.astype(str)
    if len(np.unique(labels)) < 2:
        raise ValueError(
            f"{shown!r} has a single class ({labels[0].item()!r}) in its label column; a "
            "classifier needs at least 2."
        )
    return features, labels


def _split(X, y, test_size: float, random_state: Any, where: str):
    """A stratified split, refused with initlab's own words where one cannot be made."""
    from sklearn.model_selection import train_test_split

    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        c = classes[np.argmin(counts)]
        c = c.item() if isinstance(c, np.generic) else c
        raise ValueError(
            f"{where} has only 1 row of class {c!r}: every class needs at least 2 to be split "
            "into training and test sets (add rows, or hold none out with test_size 0)."
        )
    m = len(y)
    n_test = int(np.ceil(test_size * m))
    if n_test < len(classes) or m - n_test < len(classes):
        raise ValueError(
            f"The 'test_size' parameter of train_test must leave at least one row of each of the "
            f"{len(classes)} classes on each side of the split of {where} ({m} rows). Got "
            f"{test_size!r} instead ({n_test} test rows)."
        )
    X, Xt, y, yt = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=y
    )
    return X, y, Xt, yt


def train_test(
    dataset: str = "circles",
    *,
    data: Any = None,
    n_samples: int = 300,
    noise: float = 0.05,
    data_seed: int = 1,
    test_samples: int = 100,
    test_seed: int = 2,
    test_size: float = 0.25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The training and test sets that ``initlab train`` and ``initlab check`` use.

    A generated dataset (one whose loader takes ``random_state``) draws ``n_samples`` training
    points from ``data_seed`` and ``test_samples`` fresh test points from ``test_seed`` (0: no
    test set), the course's protocol. A fixed dataset (``iris2``, ``digits``) or a CSV file
    (``data``) is split, stratified by class, holding out ``test_size`` of its rows
    (0: none).

    Parameters
    ----------
    dataset : str
        A name of :func:`list_datasets` (ignored when ``data`` is given).
    data : path, optional
        A CSV file read with :func:`load_csv`.
    n_samples, noise : int, float
        For generators that take them.
    data_seed, test_seed : int in [0, 2**32 - 1]
    test_samples : int >= 0
    test_size : float in [0, 1)

    Returns
    -------
    X, y, X_test, y_test
        ``X_test`` and ``y_test`` are None without a test set.

    Examples
    --------
    >>> X, y, Xt, yt = train_test("circles")
    >>> X.shape, Xt.shape
    ((300, 2), (100, 2))
    """
    owner = "train_test"
    check_seed(owner, "data_seed", data_seed)
    check_seed(owner, "test_seed", test_seed)
    check_number(owner, "test_samples", test_samples, integer=True, low=0)
    check_number(owner, "test_size", test_size, low=0, high=1, high_open=True)
    if data is not None:
        X, y = load_csv(data)
        if test_size == 0:
            return X, y, None, None
        return _split(X, y, test_size, data_seed, repr(os.fspath(data)))
    if dataset not in DATASETS:
        raise ValueError(f"Unknown dataset {dataset!r}. Valid datasets: {', '.join(DATASETS)}.")
    params = inspect.signature(DATASETS[dataset]).parameters
    kwargs: dict[str, Any] = {}
    if "n_samples" in params:
        kwargs["n_samples"] = n_samples
    if "noise" in params:
        kwargs["noise"] = noise
    if "random_state" not in params:
        X, y = load_dataset(dataset, **kwargs)
        if test_size == 0:
            return X, y, None, None
        return _split(X, y, test_size, data_seed, f"dataset {dataset!r}")
    X, y = load_dataset(dataset, random_state=data_seed, **kwargs)
    if test_samples == 0:
        return X, y, None, None
    if "n_samples" in kwargs:
        check_number(owner, "test_samples", test_samples, integer=True, low=2)
        kwargs["n_samples"] = test_samples
    Xt, yt = load_dataset(dataset, random_state=test_seed, **kwargs)
    return X, y, Xt, yt
