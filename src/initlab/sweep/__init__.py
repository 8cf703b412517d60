"""Sweeps: grids of configurations trained as stacks of networks.

:func:`load_spec` reads and checks a grid (:mod:`initlab.sweep.spec`).
"""

from .spec import GRID_KEYS, GROUP_KEYS, METRICS, Config, Record, SweepSpec, load_spec

__all__ = ["GRID_KEYS", "GROUP_KEYS", "METRICS", "Config", "Record", "SweepSpec", "load_spec"]
