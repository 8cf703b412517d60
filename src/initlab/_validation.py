"""Parameter checks with scikit-learn's wording: "The 'x' parameter of Y must be .... Got ..."."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def _fail(owner: str, name: str, allowed: str, value: Any) -> ValueError:
    return ValueError(
        f"The {name!r} parameter of {owner} must be {allowed}. Got {value!r} instead."
    )


def check_number(
    owner: str,
    name: str,
    value: Any,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> Any:
    """Check a numeric parameter against its interval; return it as a plain Python number.

    >>> check_number("normal", "std", -1, low=0)
    Traceback (most recent call last):
    ...
    ValueError: The 'std' parameter of normal must be a float >= 0. Got -1 instead.
    """
    if value is None and allow_none:
        return value
    if low is not None and high is not None:
        rule = f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    elif low is not None:
        rule = f" {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        rule = f" {'<' if high_open else '<='} {high:g}"
    else:
        rule = ""
    allowed = f"{'an int' if integer else 'a float'}{rule}{' or None' if allow_none else ''}"
    numeric = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, numeric) or not np.isfinite(value):
        raise _fail(owner, name, allowed, value)
    if (low is not None and (value < low or (low_open and value == low))) or (
        high is not None and (value > high or (high_open and value == high))
    ):
        raise _fail(owner, name, allowed, value)
    # A NumPy scalar becomes a Python number, so that spec strings stay Python literals.
    return value.item() if isinstance(value, np.generic) else value


def check_option(owner: str, name: str, value: Any, options: tuple[str, ...]) -> str:
    """Check that a string parameter is one of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise _fail(owner, name, f"one of {', '.join(repr(o) for o in options)}", value)
    return value


def check_dtype(owner: str, value: Any) -> np.dtype:
    """float64 or float32, given as a string or a NumPy dtype."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise _fail(owner, "dtype", "'float64' or 'float32'", value)
    return dtype


def check_spec(owner: str, name: str, value: Any, build: Any) -> Any:
    """Build a spec (init, activation) and re-raise its error naming the parameter."""
    try:
        return build(value)
    except ValueError as exc:
        raise ValueError(f"The {name!r} parameter of {owner} is invalid: {exc}") from None
