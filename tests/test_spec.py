"""Spec strings: one parser, round trips, and errors that say what is allowed."""

import keyword

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from initlab import check_random_state
from initlab._spec import format_spec, parse_spec

# Python's keywords (as, if, in, ...) cannot be names in a spec, whose grammar is Python's call
# syntax; no scheme, activation or parameter is one.
names = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s)
)
values = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(alphabet="abc_xyz", max_size=6),
)


@given(name=names, params=st.dictionaries(names, values, max_size=4))
def test_format_then_parse_is_the_identity(name, params):
    assert parse_spec(format_spec(name, params)) == (name, params)


def test_bare_words_are_strings_for_the_shell():
    assert parse_spec("he_normal(mode=fan_out, nonlinearity=relu)") == (
        "he_normal",
        {"mode": "fan_out", "nonlinearity": "relu"},
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("normal(10)", "must be a name optionally followed by keyword arguments"),
        ("normal(std=1", "must be a name optionally followed by keyword arguments"),
        ("normal(std=np.pi)", "must be a literal"),
        ("normal(**kw)", "may not use '\\*\\*'"),
    ],
)
def test_malformed_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_spec(spec)


def test_random_state_kinds():
    assert isinstance(check_random_state(1), np.random.RandomState)
    g = np.random.default_rng(0)
    assert check_random_state(g) is g
    assert isinstance(check_random_state(None), np.random.Generator)
    with pytest.raises(ValueError, match="must be None, an int, a numpy.random.Generator"):
        check_random_state("seed")
    with pytest.raises(
        ValueError,
        match=r"must be an int in \[0, 2\*\*32 - 1\], None, a Generator or a RandomState. Got -1",
    ):
        check_random_state(-1)
