"""Time ``initlab.torch.check`` against one plain training step of the same model, in one run.

    python benchmarks/bench_check.py [--repeats 3] [--layers 50] [--width 1024] [--batch 256]

The model is an ``nn.Sequential`` of ``--layers`` Linear layers of ``--width`` units with a ReLU
between each two (PyTorch's default start), on a batch of ``--batch`` standard normal inputs.

- check: ``initlab.torch.check(model, x)``: one forward and one backward pass through hooks,
  then the statistics, symmetry, gradient causes and findings of every layer;
- plain: one forward and backward pass, ``model(x).pow(2).mean().backward()`` (the gradients
  reset to None before each);
- for scale, a ``copy.deepcopy`` of the model, which check does not make (it restores the
  buffers and the random generators instead).

Each time is the best of ``--repeats`` runs. The ratio is check over plain: what one check
costs in training steps.
"""

from __future__ import annotations

import argparse
import copy
import platform
import time

import torch
from torch import nn

import initlab
import initlab.torch


def best_of(repeats, f):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layers", type=int, default=50)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()

    torch.manual_seed(0)
    modules = []
    for i in range(args.layers):
        modules.append(nn.Linear(args.width, args.width))
        if i < args.layers - 1:
            modules.append(nn.ReLU())
    model = nn.Sequential(*modules)
    x = torch.randn(args.batch, args.width)

    def plain():
        for p in model.parameters():
            p.grad = None
        model(x).pow(2).mean().backward()

    def check():
        return initlab.torch.check(model, x)

    t_plain, _ = best_of(args.repeats, plain)
    t_check, diagnosis = best_of(args.repeats, check)
    t_copy, _ = best_of(args.repeats, lambda: copy.deepcopy(model))

    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"initlab {initlab.__version__}, torch {torch.__version__} ({torch.get_num_threads()} "
        f"threads), Python {platform.python_version()}, {platform.machine()}"
    )
    print(
        f"nn.Sequential: {args.layers} x Linear({args.width}, {args.width}) with ReLU, "
        f"{n_params / 1e6:.1f}M parameters, batch {args.batch}, best of {args.repeats}"
    )
    print(f"verdict of the check: {diagnosis.verdict}")
    print(f"{'case':44s} {'seconds':>8s}")
    print(f"{'initlab.torch.check':44s} {t_check:8.3f}")
    print(f"{'plain forward + backward (one training step)':44s} {t_plain:8.3f}")
    print(f"{'copy.deepcopy(model) (not done by check)':44s} {t_copy:8.3f}")
    print(f"check / plain: {t_check / t_plain:.2f} training steps")


if __name__ == "__main__":
    main()
