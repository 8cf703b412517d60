"""Diagnostics of a network's start: symmetry, zero gradients and their causes, signals.

:func:`diagnose` gathers them into one :class:`Diagnosis` for initlab's models;
:func:`initlab.torch.check` gives the same for PyTorch modules.
"""

from ._report import (
    VERDICTS,
    BlockReport,
    Diagnosis,
    Finding,
    LayerReport,
    assign_verdicts,
    layer_signal,
    overall_verdict,
)
from .diagnose import collapse, diagnose
from .gradients import equal_update_groups, zero_gradient_causes
from .symmetry import effective_width, merge_units, symmetry_groups, unit_signatures

__all__ = [
    "VERDICTS",
    "BlockReport",
    "Diagnosis",
    "Finding",
    "LayerReport",
    "assign_verdicts",
    "collapse",
    "diagnose",
    "effective_width",
    "equal_update_groups",
    "layer_signal",
    "merge_units",
    "overall_verdict",
    "symmetry_groups",
    "unit_signatures",
    "zero_gradient_causes",
]
