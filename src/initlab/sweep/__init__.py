"""Sweeps: grids of configurations trained as stacks of networks.

:func:`load_spec` reads and checks a grid (:mod:`initlab.sweep.spec`), :func:`sweep` runs it
chunk by chunk (:func:`run_chunk`, :mod:`initlab.sweep.run`) into a :class:`Store`
(:mod:`initlab.sweep.store`). ``initlab.sweep`` is this package; the function is
``initlab.sweep.sweep``, also exported as ``initlab.run_sweep``.
"""

from .run import run_chunk, sweep
from .spec import GRID_KEYS, GROUP_KEYS, METRICS, Config, Record, SweepSpec, load_spec
from .store import DEFAULT_STORE, Store

__all__ = [
    "DEFAULT_STORE",
    "GRID_KEYS",
    "GROUP_KEYS",
    "METRICS",
    "Config",
    "Record",
    "Store",
    "SweepSpec",
    "load_spec",
    "run_chunk",
    "sweep",
]
