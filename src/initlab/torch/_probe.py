"""Running a user's module once without changing it: inputs, state put back, errors told apart.

Shared by :func:`initlab.torch.check` and :func:`initlab.torch.apply`.
"""

from __future__ import annotations

import contextlib
import random
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._compat import nn, torch
from ._layers import family_of, is_lazy

PROBE_SEED = 0
_HERE = str(Path(__file__).resolve().parent)


class ModelError(RuntimeError):
    """The module's own code raised during the forward pass (not initlab's, and not a batch that
    does not fit): ``where`` is the innermost frame of the user's code."""

    def __init__(self, message: str, where: str = ""):
        super().__init__(message)
        self.where = where


class Inputs:
    """The forward's arguments: ``args`` (positional) and ``kwargs``; ``batch`` is the first
    tensor, whose first axis holds the samples."""

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any], batch: Any):
        self.args, self.kwargs, self.batch = args, kwargs, batch

    def tensors(self) -> list[Any]:
        from ._trace import tensors_in

        return tensors_in((self.args, self.kwargs))

    def call(self, module: Any) -> Any:
        return module(*self.args, **self.kwargs)

    def outside_inference_mode(self) -> Inputs:
        """The same arguments, with tensors made under torch.inference_mode() copied (autograd
        cannot record them, nor count their versions)."""

        def fix(x: Any) -> Any:
            if isinstance(x, torch.Tensor):
                return x.clone() if x.is_inference() else x
            if isinstance(x, tuple | list):
                return type(x)(fix(v) for v in x)
            if isinstance(x, dict):
                return {k: fix(v) for k, v in x.items()}
            return x

        with torch.inference_mode(False):
            args, kwargs = fix(self.args), fix(self.kwargs)
        return Inputs(args, kwargs, fix(self.batch))


def as_inputs(example_input: Any, where: str) -> Inputs:
    """The forward's arguments, checked: a tensor, a tuple of positional arguments, or a dict of
    keyword arguments (``model(**batch)``, as transformers models take them), holding a batch of
    two or more samples."""
    from ._trace import first_tensor

    if isinstance(example_input, torch.Tensor):
        inputs = Inputs((example_input,), {}, example_input)
    elif isinstance(example_input, tuple | list) and example_input:
        inputs = Inputs(tuple(example_input), {}, first_tensor(tuple(example_input)))
    elif (
        isinstance(example_input, dict)
        and example_input
        and all(isinstance(k, str) for k in example_input)
    ):
        inputs = Inputs((), dict(example_input), first_tensor(list(example_input.values())))
    else:
        inputs = None
    if inputs is None or inputs.batch is None:
        raise ValueError(
            f"The 'example_input' parameter of {where} must be a torch.Tensor holding a batch "
            "(samples on the first axis), a tuple of the forward's positional arguments, or a "
            f"dict of its keyword arguments. Got {_describe(example_input)} instead."
        )
    x = inputs.batch
    if x.ndim == 0 or x.shape[0] < 2:
        raise ValueError(
            f"The 'example_input' parameter of {where} must hold a batch of at least 2 samples "
            "on its first axis (the statistics are over samples). "
            f"Got shape {tuple(x.shape)} instead."
        )
    return inputs


def _describe(x: Any) -> str:
    if isinstance(x, tuple | list | dict):
        return (
            f"a {type(x).__name__} of {len(x)} without a tensor"
            if x
            else f"an empty {type(x).__name__}"
        )
    return type(x).__name__


def check_module(module: Any, where: str) -> None:
    if not isinstance(module, nn.Module):
        raise ValueError(
            f"The 'module' parameter of {where} must be a torch.nn.Module. "
            f"Got {type(module).__name__} instead."
        )
    for name, m in module.named_modules():
        if is_lazy(m):
            raise ValueError(
                f"The layer {name or type(m).__name__!r} ({type(m).__name__}) of the 'module' "
                f"parameter of {where} is lazy and has no weights yet: run one forward pass, "
                f"model(example_input), first. {where} does not run it for you, because that "
                "draws the weights from torch's generator and changes the model."
            )


@contextlib.contextmanager
def preserved_state(module: Any) -> Iterator[None]:
    """Run a block and put back what a forward pass may change: the training flags, every buffer
    (BatchNorm's running statistics and batch count), the weights an ``nn.Embedding(max_norm=)``
    renormalizes in place, and the random generators: torch's (dropout draws from them; inside
    the block they are seeded with ``PROBE_SEED`` so that the result does not depend on what ran
    before), NumPy's global one and Python's ``random`` (a forward may draw from them)."""
    flags = [(m, m.training) for m in module.modules()]
    buffers = []
    for m in module.modules():
        for key, b in m._buffers.items():
            if b is not None:
                buffers.append((m, key, b, b.detach().clone()))
    renormed = []
    for m in module.modules():
        if isinstance(m, nn.Embedding | nn.EmbeddingBag) and m.max_norm is not None:
            renormed.append((m.weight, m.weight.detach().clone()))
    tensors = [*module.parameters(), *module.buffers()]
    devices = sorted({t.device.index or 0 for t in tensors if t.device.type == "cuda"})
    np_state = np.random.get_state()  # noqa: NPY002 -- put back, never drawn from
    py_state = random.getstate()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(PROBE_SEED)
        try:
            yield
        finally:
            with torch.no_grad():
                for m, key, b, saved in buffers:
                    m._buffers[key] = b  # in case the forward replaced the buffer object
                    b.copy_(saved)
                for w, saved in renormed:
                    w.copy_(saved)
            for m, flag in flags:
                m.training = flag
            np.random.set_state(np_state)  # noqa: NPY002
            random.setstate(py_state)


def run_forward(module: Any, inputs: Inputs, trace: Any, where: str) -> Any:
    """``module(*args, **kwargs)``. A failure before any layer ran, on a batch that does not fit
    the first layer, or on the wrong number of arguments, becomes a ValueError saying what is
    expected; any other exception raised by the module's own code becomes a :class:`ModelError`
    naming where; an exception raised in initlab's code is re-raised as it is (a bug)."""
    try:
        return inputs.call(module)
    except Exception as err:
        frames = traceback.extract_tb(err.__traceback__)
        if (
            not getattr(err, "_initlab_user", False)
            and frames
            and frames[-1].filename.startswith(_HERE)
        ):
            raise  # initlab's own hooks failed: an internal error
        ran = trace is not None and bool(trace.layers)
        message = None if ran else expected_input_message(module, inputs, err, where)
        if message is not None:
            raise ValueError(f"{message} (PyTorch: {_first_line(err)})") from err
        user = [
            f
            for f in frames
            if "site-packages/torch" not in f.filename and not f.filename.startswith(_HERE)
        ]
        where_ = f"{Path(user[-1].filename).name}:{user[-1].lineno}" if user else ""
        raise ModelError(
            f"the module's forward raised {type(err).__name__}: {_first_line(err)}"
            + (f" (at {where_})" if where_ else ""),
            where_,
        ) from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


_SPATIAL = {1: "length", 2: "height, width", 3: "depth, height, width"}


def expected_input_message(
    module: Any, inputs: Inputs, err: BaseException, where: str
) -> str | None:
    """What the forward or its first Linear, Conv or Embedding layer expects, if the example input
    does not fit it."""
    import inspect

    if isinstance(err, TypeError) and "argument" in str(err):
        try:
            sig = inspect.signature(module.forward)
        except (TypeError, ValueError):
            sig = None
        if sig is not None:
            required = [
                p.name
                for p in sig.parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            if len(required) != len(inputs.args) and not inputs.kwargs:
                return (
                    f"The 'example_input' parameter of {where} must give the "
                    f"{len(required)} arguments that {type(module).__name__}.forward takes "
                    f"({', '.join(required)}), as a tuple. Got {len(inputs.args)}"
                )
    first = next(
        (
            (n, m)
            for n, m in module.named_modules()
            if family_of(m) in ("weight", "embedding") and getattr(m, "weight", None) is not None
        ),
        None,
    )
    if first is None:
        return None
    name, layer = first
    name = name or type(layer).__name__
    x = inputs.batch
    shape = tuple(x.shape)
    head = f"The 'example_input' parameter of {where} must"
    tail = f"to fit the first layer {name!r} ({layer!r}). Got"
    if isinstance(layer, nn.Embedding | nn.EmbeddingBag):
        if x.is_floating_point() or x.is_complex():
            return f"{head} hold integer indices in [0, {layer.num_embeddings}) {tail} {x.dtype}."
        if x.numel() and int(x.max()) >= layer.num_embeddings:
            return (
                f"{head} hold integer indices in [0, {layer.num_embeddings}) {tail} indices up "
                f"to {int(x.max())}."
            )
        return None
    if isinstance(layer, nn.Linear):
        if x.ndim < 2 or shape[-1] != layer.in_features:
            return f"{head} have shape (batch, {layer.in_features}) {tail} shape {shape} instead."
    elif isinstance(layer, nn.modules.conv._ConvNd):
        n = len(layer.kernel_size)
        if x.ndim != n + 2 or shape[1] != layer.in_channels:
            return (
                f"{head} have shape (batch, {layer.in_channels}, {_SPATIAL[n]}) {tail} "
                f"shape {shape} instead."
            )
    if x.is_floating_point() and x.dtype != layer.weight.dtype:
        return f"{head} have dtype {layer.weight.dtype} {tail} {x.dtype} instead."
    if not x.is_floating_point() and isinstance(layer, nn.Linear | nn.modules.conv._ConvNd):
        return f"{head} hold floating-point values {tail} {x.dtype} instead."
    return None
