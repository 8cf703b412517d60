"""A sweep's table summarized by its axes: what ``initlab sweep`` prints, for any front end."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["summarize"]


def _number(x: float) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else str(x)  # JSON-ready: NaN (no finite run) as "nan"


def summarize(df: Any, axes: Sequence[str]) -> list[dict[str, Any]]:
    """One row per combination of the axes other than ``seed`` that take more than one value.

    Parameters
    ----------
    df : pandas.DataFrame
        A sweep's table (:func:`initlab.sweep.sweep`, :meth:`Store.frame`).
    axes : sequence of str
        The sweep's axes (``SweepSpec.axes``).

    Returns
    -------
    list of dict
        The axis values, then ``configs``, ``median_final_loss``, ``median_train_accuracy``
        (medians over the seeds and pooled axes; ``"nan"`` where no run has one),
        ``reached_target`` and ``diverged`` (shares of the runs).
    """
    keys = [a for a in axes if a != "seed" and df[a].map(repr).nunique() > 1]
    groups = df.groupby(keys, sort=False, dropna=False) if keys else [((), df)]
    rows = []
    for values, g in groups:
        values = values if isinstance(values, tuple) else (values,)
        row: dict[str, Any] = {
            k: list(v) if isinstance(v, tuple) else v for k, v in zip(keys, values)
        }
        row["configs"] = len(g)
        row["median_final_loss"] = _number(g["final_loss"].astype(float).median())
        row["median_train_accuracy"] = _number(g["train_accuracy"].astype(float).median())
        row["reached_target"] = float(g["iterations_to_target"].notna().mean())
        row["diverged"] = float(g["diverged"].astype(bool).mean())
        rows.append(row)
    return rows
