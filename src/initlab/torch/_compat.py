"""PyTorch, imported once for the adapter, or None when the optional extra is not installed.

Every module of :mod:`initlab.torch` imports torch from here, so that each of them can be
imported (and its docstrings read) without PyTorch; calling into the adapter then raises
:func:`require_torch`'s ImportError, which names the extra to install.
"""

from __future__ import annotations

try:
    import torch
    from torch import nn
except ImportError:  # the optional extra is missing: fail on use, not on import
    torch = None
    nn = None

INSTALL = "initlab.torch needs PyTorch: pip install 'initlab[torch]'"


def require_torch() -> None:
    """Raise ImportError, naming the extra to install, when PyTorch is missing."""
    if torch is None:
        raise ImportError(INSTALL)
