"""The PyTorch adapter: diagnose a ``torch.nn.Module``'s start and re-initialize it.

Install with ``pip install 'initlab[torch]'``. Importing :mod:`initlab` never imports torch;
importing :mod:`initlab.torch` works without it too, and calling :func:`check` or :func:`apply`
then raises an ImportError that names the extra to install.

- :func:`check` gives the same :class:`~initlab.diagnostics.Diagnosis` that initlab's own models
  get (signal statistics per layer, effective width, dead units, zero gradients with their
  causes, findings with suggestions, one verdict), read while the module runs once forward and
  once backward, leaving it exactly as it was. It sees every layer family of PyTorch and
  transformers (Linear, Conv, ConvTranspose, transformers' Conv1D, embeddings, every norm,
  ``nn.MultiheadAttention``, recurrent layers, raw parameters used as weights), the activations
  called as functions inside ``forward``, and the residual stream.
- :func:`apply` re-draws every layer it analyses, in place, each by a rule that suits it, with
  any initlab scheme for the weight layers (``"he_normal"``, ``"orthogonal(gain=1.41)"``,
  ``"lsuv"`` on a batch, ``"auto"`` per layer for the activation the trace found), drawing with
  NumPy so that a seed gives the same start as initlab's own models; frozen parameters and ties
  are kept.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import _compat

if TYPE_CHECKING:
    import torch

    from ..diagnostics import Diagnosis

from ._probe import ModelError

__all__ = ["ModelError", "apply", "check"]


def check(
    module: torch.nn.Module,
    example_input: Any,
    target: torch.Tensor | None = None,
    loss_fn: Any = None,
    *,
    atol: float = 0.0,
    rtol: float = 0.0,
    measure_steps: bool | None = None,
) -> Diagnosis:
    """Diagnose how a PyTorch module's current weights start learning, on one batch.

    One forward and one backward pass, watched by forward hooks on every module and a
    :class:`torch.overrides.TorchFunctionMode` that sees the function calls inside ``forward``.

    **Layers analysed**: ``nn.Linear``, ``nn.Conv1d/2d/3d``, ``nn.ConvTranspose1d/2d/3d``,
    transformers' ``Conv1D`` (GPT-2; its weight is (in, out)), ``nn.Embedding`` and
    ``EmbeddingBag``, every normalization (``BatchNorm``, ``LayerNorm``, ``GroupNorm``,
    ``InstanceNorm``, ``nn.RMSNorm``, and modules that behave as one: a leaf whose class name
    says "norm" with a 1-D scale, such as ``LlamaRMSNorm`` and ``T5LayerNorm``),
    ``nn.MultiheadAttention`` (``in_proj_weight`` and ``out_proj``), ``nn.RNN/LSTM/GRU`` and
    their cells, and raw parameters used by ``F.linear``, ``x @ W``, ``torch.bmm``, ``F.conv*``
    or a norm function inside ``forward`` (MoE experts). ``Diagnosis.coverage`` is the share of
    parameters in analysed layers; ``Diagnosis.unanalysed`` names the others (scanned only for
    non-finite and all-zero values).

    **Activations** are paired with the layer they follow: activation modules by class, modules
    by behaviour (transformers' ``NewGELUActivation`` is tanh and pow calls; it is recognised
    by what it computes), function calls (``F.relu``, ``torch.tanh``, ``x.sigmoid()``), and the
    gated product ``silu(gate(x)) * up(x)`` (up's activation reads "gated").

    **Where the signal is judged.** Each layer's std over samples is compared with the start of
    its chain: the input, an embedding, or a normalization's output (``LayerReport.reference``).
    A residual add ``x + f(x)`` is a point of the residual stream (a row of its own, role
    "residual stream"), judged against the stream's start; the layers of a short segment that
    ends in it are a "residual branch", small on purpose and not judged on their own scale. A
    head (nothing reads its output) is not judged for vanishing: with class scores its first
    loss is compared with ln(classes) instead, with a target, or, for a transformers output's
    ``logits``, against uniformly random labels. A normalization is vanishing when its output's
    std over samples is below 1/100 of its scale. A layer whose input is constant by
    construction (an embedding looked up with the single index 0 of default
    ``token_type_ids``) is recognised and not judged.

    **Zero weights are judged by their gradients.** An all-zero layer whose own gradient is zero
    too never moves: ``stuck``. One whose own gradient is non-zero moves at the first step: a
    zero start, information when it matches a convention (a residual branch that starts at zero
    with torchvision's ``zero_init_residual`` or Fixup, a zero head, LoRA's B, a zero gate), with
    the step from which every parameter it cut off has a gradient (reasoned from the gradient
    graph, or measured by SGD steps on a copy: ``measure_steps``); "possibly never initialized"
    otherwise. NaN or inf values, subnormal numbers (stale memory) and magnitudes no initializer
    draws are reported first. Symmetry (units that stay equal) is claimed only where incoming
    and outgoing weights were both compared (through element-wise calls, per-unit norms and the
    gated product, to the one layer that reads the output, with no active dropout between).

    **Sharing.** One parameter in two places is tying (information); one module registered at
    sibling places (``nn.ModuleList([block] * n)``) a warning; distinct tensors with equal
    values (a deep copy, a re-seeded generator, ``nn.TransformerEncoder``'s copies of its layer)
    a warning.

    Parameters
    ----------
    module : torch.nn.Module
    example_input : torch.Tensor, tuple or dict
        A batch of at least 2 samples on the first axis of its first tensor: a tensor, a tuple
        of the forward's positional arguments, or a dict of its keyword arguments
        (``model(**batch)``, as transformers models take them), on the module's device.
    target : torch.Tensor, optional
        Targets for the batch. Without one, the backward pass starts from a fixed random error
        at the output (see Notes).
    loss_fn : callable, optional
        ``loss_fn(output, target) -> scalar tensor``. Default with a target: cross-entropy for
        integer (class index) targets, over every position for (batch, positions, classes)
        scores; mean squared error for float targets. The scores are the output, its
        ``logits`` (transformers) or the first tensor of a tuple.
    atol, rtol : float, default 0
        Tolerances for units to count as equal; 0 compares them exactly.
    measure_steps : bool or None, default None
        How the step from which a zero start's parameters all have a gradient is found: True
        by SGD steps on a deep copy (the probe's objective), False by reasoning from the
        gradient graph, None by SGD for models of up to 5 million parameters.

    Returns
    -------
    Diagnosis
        ``verdict`` (the worst found), ``layers`` (with residual-stream points, in call order),
        ``blocks``, ``findings`` (each with ``fix``, the keyword arguments of :func:`apply` that
        carry out its suggestion), ``loss``, ``model``, ``notes``, ``coverage``,
        ``unanalysed``.

    Raises
    ------
    ImportError
        When PyTorch is not installed.
    ValueError
        For a batch that does not fit the first layer (the message names the shape it expects),
        a forward that takes other arguments, a batch of one sample, a lazy module not yet
        materialized, a target that does not fit the default loss, or a bad parameter.
    initlab.torch.ModelError
        When the module's own forward raises (naming the exception and the line).

    Notes
    -----
    **Nothing changes.** Parameters are never written (the rows an ``nn.Embedding(max_norm=)``
    renormalizes are put back). Gradients come from ``torch.autograd.grad``, so ``.grad`` is
    untouched; the training flags, every buffer (BatchNorm's running statistics, cloned before
    and copied back), torch's random generators (seeded with 0 inside the check, so that
    dropout gives the same result every time), NumPy's global generator and Python's
    ``random`` are put back even when the forward raises, and every hook is removed. No copy of
    the model is made, but for ``measure_steps``. A lazy module is refused rather than
    materialized: materializing draws its weights and changes the model.

    **Default backward.** With no target the scalar differentiated is ``sum(y * r) / batch``
    with ``r ~ N(0, 1)`` of the output's shape (of the logits, for a transformers output) from
    a private generator seeded 0: a fixed random error dL/dy at every output unit of every
    sample. A loss of the output itself would have a zero gradient whenever the output is
    zero, blaming the probe for what is the network's doing.

    **Stds are over samples** (and positions), per unit, pooled: the part of the signal that
    changes with the input. PyTorch's default biases hold a deep ReLU network's std over all
    entries near 0.02 while every input gives the same output; over samples it reads 1e-9.

    **Causes** of an exactly zero gradient, from ``dW = delta^T a_in``, ``db = sum delta`` and
    ``delta = dL/da * phi'(z)``: "the inputs feeding this layer are all zero"; "all-zero weights
    in this layer" (z is the bias alone, where phi' is zero); "the activation's derivative is
    zero on every sample"; "the error reaching this layer is zero because the next layer's
    weights are zero" (or "... it is already zero at" a later layer or residual add).

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
    'stuck'
    >>> {b.name: b.cause for b in report.blocks if b.zero}
    {'0.weight': "the error reaching this layer is zero because the next layer's weights are
    zero", '0.bias': "the error reaching this layer is zero because the next layer's weights are
    zero", '2.weight': 'all-zero weights in this layer', '2.bias': 'all-zero weights in this
    layer', '4.weight': 'the inputs feeding this layer are all zero'}
    >>> report.findings[0].fix
    {'spec': 'he_normal', 'layers': ['2']}
    """
    _compat.require_torch()
    from ._check import check as _check

    return _check(
        module, example_input, target, loss_fn, atol=atol, rtol=rtol, measure_steps=measure_steps
    )


def apply(
    module: torch.nn.Module,
    spec: Any,
    *,
    example_input: Any = None,
    random_state: Any = None,
    bias: str = "auto",
    layers: list[str] | None = None,
    embeddings: str = "auto",
    include_frozen: bool = False,
) -> dict[str, dict[str, Any]]:
    """Re-initialize a module's layers in place: its weight layers with an initlab scheme, every
    other layer family by the rule that suits it.

    Every layer the check analyses, in registration order (the layers a batch does not reach
    included):

    - **weight layers** (Linear, Conv, ConvTranspose, transformers' Conv1D) and raw parameters
      used as a layer's weight: one draw of the (out, in, *kernel) weight,
      ``init(rng, shape, np.float64)``, written in the module's own layout (Conv1D's (in, out)
      as its transpose; stacked experts one draw each), copied in its dtype and device under
      ``torch.no_grad()``; then the bias by the scheme's rule (the scheme's ``bias`` draw for a
      scheme that draws one, such as ``torch_linear``; zeros otherwise);
    - ``nn.MultiheadAttention``: the query, key and value projections each drawn on its own,
      the output projection by the scheme, the biases zero;
    - **recurrent layers**: each gate's input weights by the scheme (``"auto"``: for tanh), each
      gate's recurrent weights orthogonal (Saxe et al. 2014), the biases zero but an LSTM's
      forget gate at 1 (Jozefowicz et al. 2015);
    - **embeddings** (``embeddings="auto"``): N(0, 1/embedding_dim), each token's vector of norm
      about 1, the scale at which an output layer tied to it gives logits of std about 1 on
      unit-variance features; the padding row stays zero;
    - **normalizations**: scale 1, shift 0, running statistics reset.

    A tied tensor is drawn once, by the rule of its first owner (GPT-2's ``lm_head`` is
    ``transformer.wte``: drawn as an embedding), and stays tied. Frozen parameters
    (``requires_grad=False``) are left as they are unless ``include_frozen``.

    Parameters
    ----------
    module : torch.nn.Module
    spec : str, Initializer or callable
        Any initlab scheme (:func:`initlab.list_initializers`): ``"he_normal"``,
        ``"normal(std=0.01)"``, ``"zero_hadamard"``, ``"lsuv"``, ...; or ``"auto"``: per layer,
        the scheme for the activation that follows it (:func:`initlab.initializers.
        auto_initializer`: He for the ReLU family, Glorot for tanh, sigmoid and none, LeCun for
        SELU).
    example_input : torch.Tensor, tuple or dict, optional
        A batch, as :func:`check` takes it. Required by ``"lsuv"``; with ``"auto"`` it shows
        which activation follows each layer (function calls included; without it, the activation
        module registered after the layer in its parent counts, skipping normalization and
        dropout).
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        Where the draws come from (:func:`initlab.check_random_state`); torch's own generator is
        not used.
    bias : {"auto", "keep", "zeros"}, default "auto"
        ``"auto"``: the scheme's rule; ``"keep"``: leave the biases; ``"zeros"``: zeros.
    layers : list of str, optional
        Re-initialize only these layers (their names as the check reports them), as a
        ``Finding.fix`` does.
    embeddings : str, default "auto"
        ``"auto"``: the rule above; ``"keep"``; or a scheme's spec for the embedding tables.
    include_frozen : bool, default False
        Also re-draw parameters with ``requires_grad=False``.

    Returns
    -------
    dict
        Per layer name: ``kind``, ``scheme`` (the rule used), ``activation`` (the one it was
        chosen for), ``old_std`` and ``new_std`` of the weight; ``tied_to`` for a layer whose
        weight was drawn with its first owner; ``frozen_kept`` when frozen parameters were left;
        with ``"lsuv"`` also ``iterations`` and ``output_variance``.

    Raises
    ------
    ImportError
        When PyTorch is not installed.
    ValueError
        For an unknown scheme or parameter (listing the valid ones), an unknown layer name,
        ``"lsuv"`` without ``example_input``, a batch that does not fit the first layer, a lazy
        module, or a bad ``bias``. No weight is changed then.

    Notes
    -----
    ``"lsuv"`` (Mishkin and Matas, 2016): every weight layer starts orthogonal with a zero
    bias; then, layer by layer in call order, the weights are divided by the std of the layer's
    output on ``example_input`` (all units and samples together) until its variance is 1 within
    ``tol``, or ``max_iter`` times, as :func:`initlab.engine.lsuv` does for initlab's own
    stacks. The forward passes stop after the layer; BatchNorm's running statistics and the
    random generators are put back afterwards.

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

    return _apply(
        module,
        spec,
        example_input=example_input,
        random_state=random_state,
        bias=bias,
        layers=layers,
        embeddings=embeddings,
        include_frozen=include_frozen,
    )


if _compat.torch is None:
    # The examples need PyTorch: keep them in the docstrings but let doctest skip them.
    for _f in (check, apply):
        _f.__doc__ = re.sub(r"(?m)^(\s*>>> .*)$", r"\1  # doctest: +SKIP", _f.__doc__)
