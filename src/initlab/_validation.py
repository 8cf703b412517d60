"""The one validation layer: every entry point (the command line, the estimators, the spec parser,
the sweep loader, the PyTorch check, the playground) checks its input here, before any work.

Messages follow scikit-learn's wording, "The 'x' parameter of Y must be .... Got ... instead.", so
that they name the parameter, the value and what is allowed. Numbers must be finite where a number
is asked for; paths are checked for what will be done with them (read, or written) before anything
runs, so that a refused command writes nothing.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any

import numpy as np

SEED_MAX = 2**32 - 1
"""The largest seed a legacy ``RandomState`` (what an int ``random_state`` seeds) accepts."""

SPEC_MAX_LENGTH = 1000
"""The longest spec string accepted (a longer one is a mistake, and would cost the parser)."""


def _fail(owner: str, name: str, allowed: str, value: Any) -> ValueError:
    return ValueError(
        f"The {name!r} parameter of {owner} must be {allowed}. Got {_show(value)} instead."
    )


def _show(value: Any) -> str:
    """``repr`` of a value, cut short: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + "..." + text[-12:]


def _bound(x: float) -> str:
    if x == SEED_MAX:
        return "2**32 - 1"
    if isinstance(x, numbers.Integral) and abs(x) < 10**9:
        return str(x)
    return f"{x:g}"


def _finite(value: Any, integer: bool) -> bool:
    if integer and isinstance(value, numbers.Integral):
        return True  # Python ints have no inf; a huge one is checked against the range
    try:  # an int beyond the float range is not a finite float
        return math.isfinite(value)
    except (OverflowError, TypeError, ValueError):
        return False


def _allowed(integer, low, high, low_open, high_open, allow_none) -> str:
    if low is not None and high is not None:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        rule = f" in {left}{_bound(low)}, {_bound(high)}{right}"
    elif low is not None:
        rule = f" {'>' if low_open else '>='} {_bound(low)}"
    elif high is not None:
        rule = f" {'<' if high_open else '<='} {_bound(high)}"
    else:
        rule = ""
    kind = "an int" if integer else "a float" if rule else "a finite float"
    return f"{kind}{rule}{' or None' if allow_none else ''}"


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

    NaN and inf are refused wherever a number is asked for; a string (even ``"10"``), a bool or
    any other type is refused too.

    >>> check_number("normal", "std", -1, low=0)
    Traceback (most recent call last):
    ...
    ValueError: The 'std' parameter of normal must be a float >= 0. Got -1 instead.
    >>> check_number("leaky_relu", "slope", float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: The 'slope' parameter of leaky_relu must be a finite float. Got nan instead.
    """
    if value is None and allow_none:
        return value
    allowed = _allowed(integer, low, high, low_open, high_open, allow_none)
    numeric = numbers.Integral if integer else numbers.Real
    if (
        isinstance(value, bool | np.bool_)
        or not isinstance(value, numeric)
        or not _finite(value, integer)
    ):
        raise _fail(owner, name, allowed, value)
    if (low is not None and (value < low or (low_open and value == low))) or (
        high is not None and (value > high or (high_open and value == high))
    ):
        raise _fail(owner, name, allowed, value)
    # A NumPy scalar becomes a Python number, so that spec strings stay Python literals.
    return value.item() if isinstance(value, np.generic) else value


def number_from_text(owner: str, name: str, value: Any, *, integer: bool = False, **rule: Any):
    """A number typed on a command line (or given as a number), checked as :func:`check_number`
    checks it. An integer may be written ``15000`` or ``1.5e4``.

    >>> number_from_text("initlab train", "--iterations", "1e4", integer=True, low=1)
    10000
    >>> number_from_text("initlab train", "--seed", "2**40", integer=True, low=0)
    Traceback (most recent call last):
    ...
    ValueError: The '--seed' parameter of initlab train must be an int >= 0. Got '2**40' instead.
    """
    parsed: Any = value
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = int(text) if integer else float(text)
        except ValueError:
            try:
                f = float(text)
                parsed = int(f) if integer and math.isfinite(f) and f.is_integer() else value
            except (ValueError, OverflowError):
                parsed = value
    try:
        return check_number(owner, name, parsed, integer=integer, **rule)
    except ValueError:  # say what was typed, not what it was read as
        rule = {"low": None, "high": None, "low_open": False, "high_open": False} | rule
        raise _fail(owner, name, _allowed(integer, allow_none=False, **rule), value) from None


def check_seed(owner: str, name: str, value: Any) -> int:
    """An int seed in [0, 2**32 - 1], the range of a legacy ``RandomState``."""
    return int(check_number(owner, name, value, integer=True, low=0, high=SEED_MAX))


def check_option(owner: str, name: str, value: Any, options: tuple[str, ...]) -> str:
    """Check that a string parameter is one of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise _fail(owner, name, f"one of {', '.join(repr(o) for o in options)}", value)
    return value


def check_dtype(owner: str, value: Any) -> np.dtype:
    """float64 or float32, given as a string or a NumPy dtype.

    >>> check_dtype("MLPClassifier", "floaty")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The 'dtype' parameter of MLPClassifier must be 'float64' or 'float32'. Got ...
    """
    # None is refused by name: np.dtype(None) is float64, which would accept it silently.
    dtype = None
    if value is not None:
        try:
            dtype = np.dtype(value)
        except (TypeError, ValueError):
            dtype = None
    if dtype is None or dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise _fail(owner, "dtype", "'float64' or 'float32'", value)
    return dtype


def check_spec(owner: str, name: str, value: Any, build: Any) -> Any:
    """Build a spec (init, activation) and re-raise its error naming the parameter."""
    try:
        return build(value)
    except ValueError as exc:
        raise ValueError(f"The {name!r} parameter of {owner} is invalid: {exc}") from None


def check_nonempty(owner: str, name: str, value: Any, allowed: str) -> Any:
    """A list, tuple, dict or string with at least one element."""
    try:
        empty = len(value) == 0
    except TypeError:
        empty = True
    if empty:
        raise _fail(owner, name, allowed, value)
    return value


# --- paths -----------------------------------------------------------------------------------


def _path_fail(owner: str, name: str, allowed: str, path: Any, why: str) -> ValueError:
    return ValueError(f"The {name!r} parameter of {owner} must be {allowed}. Got {path!r}: {why}.")


def _not_writable(p: Path) -> str:
    """Why ``p`` cannot be written: a read-only file system says so (even to root)."""
    try:
        if os.statvfs(p).f_flag & os.ST_RDONLY:
            return f"{os.fspath(p)!r} is on a read-only file system"
    except (OSError, AttributeError):
        pass
    return f"{os.fspath(p)!r} is not writable"


def _existing_ancestor(path: Path) -> Path:
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_input_file(owner: str, name: str, path: Any) -> Path:
    """An existing, readable regular file."""
    allowed = "an existing file that can be read"
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise _fail(owner, name, allowed, path)
    p = Path(path)
    if not p.exists():
        raise _path_fail(owner, name, allowed, os.fspath(path), "no such file")
    if p.is_dir():
        raise _path_fail(owner, name, allowed, os.fspath(path), "it is a folder")
    if not p.is_file() or not os.access(p, os.R_OK):
        raise _path_fail(owner, name, allowed, os.fspath(path), "it cannot be read")
    return p


def check_output_dir(owner: str, name: str, path: Any) -> Path:
    """A folder that exists and can be written, or can be created (nothing is created here)."""
    allowed = "a folder that can be written (existing or new)"
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise _fail(owner, name, allowed, path)
    p = Path(path)
    shown = os.fspath(path)
    if p.exists() and not p.is_dir():
        raise _path_fail(owner, name, allowed, shown, "it is a file")
    base = _existing_ancestor(p)
    if not base.is_dir():
        raise _path_fail(owner, name, allowed, shown, f"{os.fspath(base)!r} is a file")
    if not os.access(base, os.W_OK | os.X_OK):
        raise _path_fail(owner, name, allowed, shown, _not_writable(base))
    return p


def check_output_file(
    owner: str, name: str, path: Any, *, suffixes: tuple[str, ...] | None = None
) -> Path:
    """A file that can be written: not a folder, in a folder that exists or can be created,
    with one of ``suffixes`` (lower case, with the dot) when given."""
    allowed = "a file that can be written"
    if suffixes:
        allowed += f", ending in {' or '.join(suffixes)}"
    if not isinstance(path, str | os.PathLike) or not os.fspath(path):
        raise _fail(owner, name, allowed, path)
    p = Path(path)
    shown = os.fspath(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise _path_fail(owner, name, allowed, shown, f"the suffix is {p.suffix or 'missing'!r}")
    if p.is_dir():
        raise _path_fail(owner, name, allowed, shown, "it is a folder")
    if p.exists() and not os.access(p, os.W_OK):
        raise _path_fail(owner, name, allowed, shown, _not_writable(p))
    base = _existing_ancestor(p.parent)
    if not base.is_dir():
        raise _path_fail(owner, name, allowed, shown, f"{os.fspath(base)!r} is a file")
    if not os.access(base, os.W_OK | os.X_OK):
        raise _path_fail(owner, name, allowed, shown, _not_writable(base))
    return p
