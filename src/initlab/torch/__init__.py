"""The PyTorch adapter: diagnose a ``torch.nn.Module``'s start and re-initialize it.

Install with ``pip install 'initlab[torch]'``. Importing :mod:`initlab` never imports torch;
importing :mod:`initlab.torch` works without it too, and calling :func:`check` or :func:`apply`
then raises an ImportError that names the extra to install.

- :func:`check` gives the same :class:`~initlab.diagnostics.Diagnosis` that initlab's own models
  get (signal statistics per layer, effective width, dead units, zero gradients with their
  causes, findings with suggestions, one verdict), read through forward and gradient hooks,
  leaving the module exactly as it was.
- :func:`apply` re-draws a module's Linear and Conv layers in place with any initlab scheme
  (``"he_normal"``, ``"orthogonal(gain=1.41)"``, ``"zero_hadamard"``, ``"lsuv"`` on a batch,
  ``"auto"`` per layer for the activation that follows it), drawing with NumPy so that a seed
  gives the same start as initlab's own models.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import _compat

if TYPE_CHECKING:
    import torch

    from ..diagnostics import Diagnosis

__all__ = ["apply", "check"]


def check(
    module: torch.nn.Module,
    example_input: torch.Tensor | tuple[torch.Tensor, ...],
    target: torch.Tensor | None = None,
    loss_fn: Any = None,
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
) -> Diagnosis:
    """Diagnose how a PyTorch module's current weights start learning, on one batch.

    One forward and one backward pass with hooks. Analysed layers: ``nn.Linear``,
    ``nn.Conv1d/2d/3d``, ``nn.Embedding`` and the normalization layers (``BatchNorm*``,
    ``LayerNorm``, ``GroupNorm``); every other module passes through and is listed as not
    analysed in ``Diagnosis.notes``. Works on ``nn.Sequential`` and on custom ``forward``
    methods (residual connections included), in train and eval modes.

    Per analysed layer (in call order) a :class:`~initlab.diagnostics.LayerReport`: z is the
    layer's output and a the output of the activation module called right after it on that
    output (``nn.ReLU``, ``LeakyReLU``, ``Tanh``, ``Sigmoid``, ``GELU``, ``SiLU``, ``ELU``,
    ``SELU``, ``Softplus``), or z itself when none is (``F.relu`` is invisible to hooks); dead
    ReLU units; the weight gradient norm; for Linear/Conv layers the effective width, the number
    of distinct units by :func:`~initlab.diagnostics.symmetry_groups` on incoming weights and
    bias, plus the outgoing weights when the next Linear/Conv of the same ``nn.Sequential``
    reads the output (otherwise incoming only, said in the notes; none for the output layer,
    whose units the loss tells apart, nor for grouped convolutions). Per parameter a
    :class:`~initlab.diagnostics.BlockReport`: gradient norm, exactly zero or not, and where
    zero, why. Findings: duplicate units, weights identical across layers, all-zero weights and
    the gradients they kill, PyTorch's default start where it shrinks the signal, dead,
    vanishing, exploding or saturated signals.

    Parameters
    ----------
    module : torch.nn.Module
    example_input : torch.Tensor or tuple of torch.Tensor
        A batch of at least 2 samples on the first axis (a tuple: the forward's positional
        arguments), on the module's device and dtype.
    target : torch.Tensor, optional
        Targets for the batch. Without one, the backward pass starts from a fixed random error
        at the output (see Notes) and ``Diagnosis.loss`` is None.
    loss_fn : callable, optional
        ``loss_fn(output, target) -> scalar tensor``. Default with a target: cross-entropy for
        integer (class index) targets, mean squared error for float targets.
    atol, rtol : float, default 0
        Tolerances for units to count as equal; 0 compares them exactly.

    Returns
    -------
    Diagnosis
        ``verdict`` (the worst found), ``layers``, ``blocks``, ``findings``, ``loss``,
        ``model`` (the module's class name) and ``notes``.

    Raises
    ------
    ImportError
        When PyTorch is not installed.
    ValueError
        For a batch that does not fit the first layer (the message names the shape it expects),
        a batch of one sample, a target that does not fit the default loss, or a bad parameter.

    Notes
    -----
    **Nothing changes.** Parameters are never written. Gradients come from
    ``torch.autograd.grad``, so ``.grad`` is untouched; the training flags, every buffer
    (BatchNorm's running statistics and batch count, cloned before and copied back after) and
    torch's random generators (dropout draws from them; ``torch.random.fork_rng``) are put back
    even when the forward raises, and every hook is removed. No deep copy of the model is made.

    **Default backward.** With no target the scalar differentiated is
    ``sum(y * r) / batch`` with ``r ~ N(0, 1)`` of the output's shape from a private
    generator seeded 0: a fixed random error dL/dy at every output unit of every sample. A loss
    of the output itself (``y.pow(2).mean() / 2``) would have a zero gradient whenever the
    output is zero, blaming the probe for what is the network's doing.

    **Stds are over samples.** ``preact_std``, ``act_std`` and ``std_ratio`` are the standard
    deviation over samples (and positions, for a convolution), per unit, pooled over units: the
    part of the signal that changes with the input. PyTorch's default biases hold a deep ReLU
    network's std over all entries near 0.02 while every input gives the same output; over
    samples it reads 1e-9, vanishing. ``vanishing`` and ``exploding`` compare it with the
    input's (with the first layer's output when the input holds indices). A layer whose input
    has already vanished is ``vanishing`` even when most of its ReLU units are zero on every
    sample: with the input's part gone, each unit sits on its bias's side of zero, a symptom.

    **Causes** of an exactly zero gradient, from ``dW = delta^T a_in``, ``db = sum delta`` and
    ``delta = dL/da * phi'(z)``: "the inputs feeding this layer are all zero"; "all-zero weights
    in this layer" (z is the bias alone, where phi' is zero); "the activation's derivative is
    zero on every sample"; "the error reaching this layer is zero because the next layer's
    weights are zero" (or "... it is already zero at" a later layer).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> import initlab.torch
    >>> model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
    ...                       nn.Linear(64, 3))
    >>> _ = initlab.torch.apply(model, "he_normal", random_state=0)
    >>> x = torch.randn(256, 20, generator=torch.Generator().manual_seed(0))
    >>> report = initlab.torch.check(model, x)
    >>> report.verdict, [r.effective_width for r in report.layers]
    ('healthy', [64, 64, None])
    >>> with torch.no_grad():
    ...     _ = model[2].weight.zero_()
    ...     _ = model[2].bias.zero_()
    >>> report = initlab.torch.check(model, x)
    >>> report.verdict
    'dead'
    >>> {b.name: b.cause for b in report.blocks if b.zero}
    {'0.weight': "the error reaching this layer is zero because the next layer's weights are
    zero", '0.bias': "the error reaching this layer is zero because the next layer's weights are
    zero", '2.weight': 'all-zero weights in this layer', '2.bias': 'all-zero weights in this
    layer', '4.weight': 'the inputs feeding this layer are all zero'}
    """
    _compat.require_torch()
    from ._check import check as _check

    return _check(module, example_input, target, loss_fn, atol=atol, rtol=rtol)


def apply(
    module: torch.nn.Module,
    spec: Any,
    *,
    example_input: torch.Tensor | tuple[torch.Tensor, ...] | None = None,
    random_state: Any = None,
    bias: str = "auto",
) -> dict[str, dict[str, Any]]:
    """Re-initialize a module's Linear and Conv layers in place with an initlab scheme.

    Every ``nn.Linear`` and ``nn.Conv1d/2d/3d``, in registration order, gets one draw of its
    whole weight ``init(rng, weight.shape, np.float64)`` from NumPy, copied into the tensor in
    its dtype and device under ``torch.no_grad()``; then its bias by the scheme's own rule (the
    scheme's ``bias`` draw for a scheme that draws one, such as ``torch_linear``; zeros
    otherwise). Other layers (normalization, embeddings) are left as they are.

    Parameters
    ----------
    module : torch.nn.Module
    spec : str, Initializer or callable
        Any initlab scheme (:func:`initlab.list_initializers`): ``"he_normal"``,
        ``"normal(std=0.01)"``, ``"zero_hadamard"``, ``"lsuv"``, ...; or ``"auto"``: per layer,
        the scheme for the activation that follows it (:func:`initlab.initializers.
        auto_initializer`: He for the ReLU family, Glorot for tanh, sigmoid and none, LeCun for
        SELU).
    example_input : torch.Tensor or tuple of torch.Tensor, optional
        A batch. Required by ``"lsuv"``; with ``"auto"`` it shows which activation follows each
        layer (without it, the activation module registered after the layer in its parent
        counts, skipping normalization and dropout).
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Where the draws come from (:func:`initlab.check_random_state`); torch's own generator is
        not used.
    bias : {"auto", "keep", "zeros"}, default "auto"
        ``"auto"``: the scheme's rule; ``"keep"``: leave the biases; ``"zeros"``: zeros.

    Returns
    -------
    dict
        Per layer name: ``scheme`` (the spec used), ``activation`` (the one it was chosen
        for), ``old_std`` and ``new_std`` of the weight; with ``"lsuv"`` also ``iterations`` and
        ``output_variance``.

    Raises
    ------
    ImportError
        When PyTorch is not installed.
    ValueError
        For an unknown scheme or parameter (listing the valid ones), ``"lsuv"`` without
        ``example_input``, a batch that does not fit the first layer, or a bad ``bias``. No
        weight is changed then.

    Notes
    -----
    ``"lsuv"`` (Mishkin and Matas, 2016): every layer starts orthogonal with a zero bias; then,
    layer by layer in call order, the weights are divided by the std of the layer's output on
    ``example_input`` (all units and samples together) until its variance is 1 within ``tol``,
    or ``max_iter`` times, as :func:`initlab.engine.lsuv` does for initlab's own stacks. The
    forward passes are run through hooks that stop after the layer; BatchNorm's running
    statistics and torch's random generators are put back afterwards.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> import initlab.torch
    >>> model = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 2))
    >>> summary = initlab.torch.apply(model, "auto", random_state=0)
    >>> [(s["activation"], s["scheme"]) for s in summary.values()]
    [('tanh', 'glorot_uniform'), ('linear', 'glorot_uniform')]
    >>> x = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))
    >>> summary = initlab.torch.apply(model, "lsuv", example_input=x, random_state=0)
    >>> all(abs(s["output_variance"] - 1) < 0.1 for s in summary.values())
    True
    """
    _compat.require_torch()
    from ._apply import apply as _apply

    return _apply(module, spec, example_input=example_input, random_state=random_state, bias=bias)


if _compat.torch is None:
    # The examples need PyTorch: keep them in the docstrings but let doctest skip them.
    for _f in (check, apply):
        _f.__doc__ = re.sub(r"(?m)^(\s*>>> .*)$", r"\1  # doctest: +SKIP", _f.__doc__)
