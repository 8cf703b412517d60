"""One way to turn a user's ``random_state`` into a generator."""

from __future__ import annotations

import numbers

import numpy as np

RandomState = None | int | np.random.Generator | np.random.RandomState


def check_random_state(random_state: RandomState) -> np.random.Generator | np.random.RandomState:
    """Return a generator for ``random_state``; never NumPy's global state.

    Parameters
    ----------
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        ``None`` gives a fresh ``Generator`` seeded from the operating system's entropy; an int
        seeds a legacy ``np.random.RandomState(int)``, as scikit-learn does, so that
        ``random_state=1`` draws exactly what textbook code written against
        ``np.random.RandomState(1)`` or ``np.random.seed(1)`` draws; a ``Generator`` or a
        ``RandomState`` is used as it is (and advanced by the draws).

    Returns
    -------
    numpy.random.Generator or numpy.random.RandomState

    Raises
    ------
    ValueError
        If ``random_state`` is of any other type, or an int outside [0, 2**32 - 1].

    Examples
    --------
    >>> rng = check_random_state(1)
    >>> float(rng.normal(0.0, 0.01))
    0.01624345363663242
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator | np.random.RandomState):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state <= 2**32 - 1:  # the seeds a RandomState accepts
            raise ValueError(
                "The 'random_state' parameter must be an int in [0, 2**32 - 1], None, a "
                f"Generator or a RandomState. Got {random_state} instead."
            )
        return np.random.RandomState(int(random_state))
    raise ValueError(
        "The 'random_state' parameter must be None, an int, a numpy.random.Generator or a "
        f"numpy.random.RandomState. Got {random_state!r} instead."
    )


def spawn(rng: np.random.Generator | np.random.RandomState, n: int) -> list[np.random.Generator]:
    """Draw ``n`` independent child generators from ``rng`` (one seed draw from ``rng``)."""
    seeds = (
        rng.integers(0, 2**63, size=n)
        if isinstance(rng, np.random.Generator)
        else (rng.randint(0, 2**31 - 1, size=n))
    )
    return [np.random.default_rng(int(s)) for s in seeds]
