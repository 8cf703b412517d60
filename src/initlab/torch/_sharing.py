"""Sharing, tying and copying: the same tensor in two places, the same module at two depths,
and distinct tensors with equal values."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ._compat import torch


@dataclass
class Sharing:
    tied: list[list[str]]  # names of one Parameter reached from several places
    shared_modules: list[list[str]]  # one module registered at sibling places ([block] * n)
    aliases: list[list[str]]  # one module registered at other places (T5's shared embedding)
    copies: list[list[str]]  # modules (or parameters) whose tensors are equal, distinct


def sharing(module: Any) -> Sharing:
    tied: dict[int, list[str]] = {}
    for name, p in module.named_parameters(remove_duplicate=False):
        tied.setdefault(id(p), []).append(name)
    places: dict[int, list[str]] = {}
    for name, m in module.named_modules(remove_duplicate=False):
        if name:
            places.setdefault(id(m), []).append(name)
    shared, aliases = [], []
    owners = dict(module.named_modules())
    for names in places.values():
        if len(names) < 2:
            continue
        m = owners.get(names[0])
        if m is None or not any(True for _ in m.parameters()):
            continue
        parents = {n.rpartition(".")[0] for n in names}
        siblings = len(parents) == 1 and all(n.rpartition(".")[2].isdigit() for n in names)
        (shared if siblings else aliases).append(names)
    # Modules and parameters under a shared module are reported with it.
    tops = {n for group in shared for n in group}
    aliases = [g for g in aliases if not all(_under(n, tops - {n}) for n in g)]
    in_shared = {n for group in shared + aliases for n in group}
    tied_groups = [
        names
        for names in tied.values()
        if len(names) > 1 and not all(_under(n, in_shared) for n in names[1:])
    ]
    return Sharing(tied_groups, shared, aliases, copies_of(module))


def _under(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _sample(flat: Any) -> tuple[float, ...]:
    # Integer positions: a float32 linspace rounds past the end of a tensor of more than 2^24
    # entries (an IndexError on BERT's and GPT-2's token embeddings).
    n = flat.numel()
    idx = (torch.arange(16, device=flat.device) * (n - 1)) // 15
    return tuple(flat[idx].tolist())


def equal_classes(module: Any) -> dict[int, int]:
    """For every distinct non-constant parameter tensor (by id), the id of its equality class:
    tensors equal bit for bit share a class. Tensors are bucketed by shape, dtype, device and 16
    sampled entries, and only tensors that agree on those are compared in full."""
    buckets: dict[Any, list[Any]] = {}
    for p in {id(p): p for p in module.parameters()}.values():
        if p.numel() < 2:
            continue
        flat = p.detach().reshape(-1)
        sample = _sample(flat)
        if len(set(sample)) == 1:
            lo, hi = torch.aminmax(flat)
            if bool(lo == hi):
                continue  # a constant tensor (ones, zeros): a start of its own, not a copy
        buckets.setdefault((tuple(p.shape), p.dtype, str(p.device), sample), []).append(p)
    classes: dict[int, int] = {}
    for members in buckets.values():
        if len(members) == 1:
            continue
        reps: list[Any] = []
        for p in members:
            for r in reps:
                if torch.equal(p, r):
                    classes[id(p)] = id(r)
                    break
            else:
                reps.append(p)
                classes[id(p)] = id(p)
    sizes = Counter(classes.values())
    return {k: v for k, v in classes.items() if sizes[v] > 1}


def is_formula(p: Any) -> bool:
    """Whether a tensor of two or more dimensions holds at most as many distinct values as its
    longest side: the result of a formula (an identity, a Dirac kernel, Mamba's A_log with
    log(1..N) in every row), which distinct layers share by design, not a copy of a random
    draw (a random (out, in) tensor holds about out x in distinct values, even in bfloat16)."""
    return p.ndim >= 2 and torch.unique(p.detach()).numel() <= max(p.shape)


def copies_of(module: Any) -> list[list[str]]:
    """Groups of modules (the largest such) whose non-constant parameters are equal, tensor by
    tensor, and distinct; or, where no module matches, groups of equal parameters."""
    classes = equal_classes(module)
    # Equal by a formula: left out like constant tensors (neither a copy nor a tensor of its own).
    params = {id(p): p for p in module.parameters()}
    formula = {r for r in set(classes.values()) if is_formula(params[r])}
    skip = {k for k, v in classes.items() if v in formula}
    classes = {k: v for k, v in classes.items() if v not in formula}
    if not classes:
        return []
    signatures: dict[tuple, list[str]] = {}
    for name, m in module.named_modules():
        if not name:
            continue
        sig = []
        for rel, p in m.named_parameters():
            if id(p) in classes:
                sig.append((rel, classes[id(p)]))
            elif p.numel() > 1 and id(p) not in skip:
                lo, hi = torch.aminmax(p.detach().reshape(-1))
                if not bool(lo == hi):
                    sig = None  # a tensor of its own: not a copy of anything
                    break
        if sig:
            signatures.setdefault(tuple(sorted(sig)), []).append(name)
    groups = [names for names in signatures.values() if len(names) > 1]
    # Keep the top-most: a group whose modules' parents form a group too is implied by it.
    tops = []
    grouped = {n for g in groups for n in g}
    for g in groups:
        if all(n.rpartition(".")[0] in grouped for n in g):
            continue
        tops.append(g)
    covered = {id(p) for g in tops for n in g for p in module.get_submodule(n).parameters()}
    by_class: dict[int, list[str]] = {}
    seen: set[int] = set()
    for name, p in module.named_parameters():
        if id(p) in classes and id(p) not in covered and id(p) not in seen:
            seen.add(id(p))
            by_class.setdefault(classes[id(p)], []).append(name)
    return sorted(tops + [g for g in by_class.values() if len(g) > 1])
