"""The scalar the check differentiates, and the first loss against ln(classes)."""

from __future__ import annotations

from typing import Any

from ._compat import torch
from ._probe import PROBE_SEED
from ._trace import tensors_in


def logits_of(output: Any) -> Any:
    """The output a loss reads: ``logits`` of a transformers output (or of a dict), the tensor
    itself, or the first tensor of a tuple."""
    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if logits is None and isinstance(output, dict):
        logits = output.get("logits")
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(output, tuple | list) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return None


def has_logits(output: Any) -> bool:
    return isinstance(getattr(output, "logits", None), torch.Tensor) or (
        isinstance(output, dict) and isinstance(output.get("logits"), torch.Tensor)
    )


def objective(output: Any, logits: Any, target: Any, loss_fn: Any) -> tuple[Any, float | None]:
    """The scalar to differentiate, and the loss value when there is a target."""
    if target is None:
        # A fixed random error at every output: dL/dy = r / batch, r ~ N(0, 1) from a private
        # generator. Unlike a loss of the output itself, it does not vanish when the output does,
        # so a zero gradient is the network's doing, not the probe's.
        outs = [logits] if has_logits(output) else tensors_in(output)
        outs = [t for t in outs if t.is_floating_point() and t.requires_grad]
        if not outs:
            return None, None
        g = torch.Generator().manual_seed(PROBE_SEED)
        total = None
        for t in outs:
            r = torch.randn(tuple(t.shape), generator=g, dtype=torch.float64)
            term = (t * r.to(device=t.device, dtype=t.dtype)).sum() / max(t.shape[0], 1)
            total = term if total is None else total + term
        return total, None
    if loss_fn is not None:
        loss = loss_fn(output, target)
    else:
        if logits is None:
            raise ValueError(
                "The 'loss_fn' parameter of check must be given when the module returns "
                f"{type(output).__name__} without logits or a tensor first."
            )
        loss = default_loss(logits, target)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError(
            f"The 'loss_fn' parameter of check must return a scalar tensor. Got {loss!r} instead."
        )
    loss = loss.reshape(())
    return loss, float(loss.detach())


def default_loss(logits: Any, target: Any) -> Any:
    F = torch.nn.functional
    if target.is_floating_point():
        if target.shape != logits.shape:
            raise ValueError(
                "The 'target' parameter of check must have the output's shape "
                f"{tuple(logits.shape)} for the default mean squared error (float targets). "
                f"Got shape {tuple(target.shape)} instead."
            )
        return F.mse_loss(logits, target)
    try:
        if logits.ndim > 2 and target.ndim == logits.ndim - 1:
            # A sequence of class scores (batch, positions, classes): every position counts.
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1).long())
        return F.cross_entropy(logits, target.long())
    except (RuntimeError, IndexError, ValueError) as err:
        raise ValueError(
            "The 'target' parameter of check must hold class indices that fit the output of "
            f"shape {tuple(logits.shape)} for the default cross-entropy (integer targets). Got "
            f"shape {tuple(target.shape)} instead ({str(err).splitlines()[0]})."
        ) from err


def first_loss(
    logits: Any, target: Any, loss: float | None, known: bool
) -> tuple[float, int, float] | None:
    """(the first loss, the number of classes, the logits' std) when the output is class
    scores: with an integer target the loss itself; without a target, for a transformers
    output's logits, the cross-entropy against uniformly random labels,
    E_y[-log softmax(z)_y] = logsumexp(z) - mean(z)."""
    if logits is None or logits.ndim < 2 or logits.shape[-1] < 2 or not logits.is_floating_point():
        return None
    with torch.no_grad():
        z = logits.detach().reshape(-1, logits.shape[-1]).float()
        std = float(z.std())
        if target is not None:
            if target.is_floating_point() or loss is None:
                return None
            return loss, z.shape[-1], std
        if not known:
            return None  # a tensor that may not be class scores: nothing to compare
        value = float((torch.logsumexp(z, dim=-1) - z.mean(dim=-1)).mean())
    return value, z.shape[-1], std
