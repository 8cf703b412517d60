"""Time ``initlab.torch.check`` against training steps of the same model, in one run.

    python benchmarks/bench_check.py [--repeats 3] [--only mlp|gpt2|vit] [--no-memory]

Three models:

- **mlp**: an ``nn.Sequential`` of 50 ``Linear(1024, 1024)`` with a ReLU between each two
  (PyTorch's default start, 52.5M parameters), a batch of 256 standard normal inputs;
- **gpt2**: GPT-2 small as published (124M parameters), built from ``GPT2Config()`` by
  transformers (its own start, no weights downloaded), in training mode, a batch of 8 sequences of
  128 token ids;
- **vit**: ViT-B/16 (86M parameters) from ``ViTConfig()``, 224-pixel images, batch 4.

For each, best of ``--repeats``:

- check: ``initlab.torch.check(model, x)``: one forward and one backward pass watched by hooks
  and a function mode, then the statistics, symmetry, zero weights, sharing and copies, findings;
- fwd+bwd: one plain forward and backward pass (the MLP: ``model(x).pow(2).mean().backward()``;
  the transformers models: their own loss with labels), gradients reset to None before each;
- train step: fwd+bwd and one ``torch.optim.AdamW`` step;
- for scale, a ``copy.deepcopy`` of the model, which the check does not make.

The ratios are check over fwd+bwd and over the training step: what one check costs in training
steps. With memory on, each of check and train step also runs in a fresh process of its own, and
the peak resident memory above the built model is reported (Linux: ``VmHWM`` after resetting
it).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from torch import nn

import initlab
import initlab.torch

MODELS = ("mlp", "gpt2", "vit")


def best_of(repeats, f):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t)
    return best, out


def build(name):
    """The model, its input, and its plain forward-and-backward pass."""
    torch.manual_seed(0)
    if name == "mlp":
        modules = []
        for i in range(50):
            modules.append(nn.Linear(1024, 1024))
            if i < 49:
                modules.append(nn.ReLU())
        model = nn.Sequential(*modules)
        x = torch.randn(256, 1024, generator=torch.Generator().manual_seed(0))

        def loss():
            return model(x).pow(2).mean()

        return model, x, loss
    import transformers

    transformers.logging.set_verbosity_error()
    g = torch.Generator().manual_seed(0)
    if name == "vit":
        model = transformers.ViTForImageClassification(transformers.ViTConfig(num_labels=1000))
        model.train()
        pixels = torch.randn(4, 3, 224, 224, generator=g)
        labels = torch.randint(0, 1000, (4,), generator=g)

        def loss():
            return model(pixels, labels=labels).loss

        return model, pixels, loss
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    model.train()
    ids = torch.randint(0, 50257, (8, 128), generator=g)

    def loss():
        return model(ids, labels=ids).loss

    return model, ids, loss


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"no {key} in /proc/self/status")


def one_case(name: str, case: str) -> None:
    """In a fresh process: build, reset the peak resident memory to the current one (Linux's
    /proc/self/clear_refs), run the case once, print the new peak above it in MB."""
    model, x, loss = build(name)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4) if case == "train" else None
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _status_mb("VmRSS")
    if case == "check":
        initlab.torch.check(model, x)
    else:
        loss().backward()
        optimizer.step()
    print(f"{_status_mb('VmHWM') - base:.0f}")


def extra_memory(name: str, case: str) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-case", name, case],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=MODELS)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-case", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_case:
        one_case(*args.memory_case)
        return

    print(
        f"initlab {initlab.__version__}, torch {torch.__version__} ({torch.get_num_threads()} "
        f"threads), Python {platform.python_version()}, {platform.machine()}, "
        f"best of {args.repeats}"
    )
    for name in MODELS if args.only is None else (args.only,):
        report(name, args.repeats, memory=not args.no_memory)


def report(name: str, repeats: int, memory: bool) -> None:
    model, x, loss = build(name)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def fwd_bwd():
        for p in model.parameters():
            p.grad = None
        loss().backward()

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        loss().backward()
        optimizer.step()

    snapshot = copy.deepcopy(model.state_dict())
    t_plain, _ = best_of(repeats, fwd_bwd)
    t_train, _ = best_of(repeats, train_step)
    model.load_state_dict(snapshot)  # the check sees the model's own start
    for p in model.parameters():
        p.grad = None
    t_check, diagnosis = best_of(repeats, lambda: initlab.torch.check(model, x))
    t_copy, _ = best_of(repeats, lambda: copy.deepcopy(model))
    n_params = sum(p.numel() for p in model.parameters())
    label = {
        "mlp": "nn.Sequential: 50 x Linear(1024, 1024) with ReLU, batch 256",
        "gpt2": "GPT-2 124M (GPT2Config()), training mode, batch 8 x 128 tokens",
        "vit": "ViT-B/16 (ViTConfig()), 224 pixels, training mode, batch 4",
    }[name]
    print(f"\n{label}: {n_params / 1e6:.1f}M parameters; verdict {diagnosis.verdict}")
    print(f"{'case':46s} {'seconds':>8s}")
    print(f"{'initlab.torch.check':46s} {t_check:8.3f}")
    print(f"{'forward + backward':46s} {t_plain:8.3f}")
    print(f"{'training step (forward, backward, AdamW)':46s} {t_train:8.3f}")
    print(f"{'copy.deepcopy(model) (not done by check)':46s} {t_copy:8.3f}")
    print(f"check / (forward + backward): {t_check / t_plain:.2f}")
    print(f"check / training step: {t_check / t_train:.2f}")
    if memory:
        m_check, m_train = extra_memory(name, "check"), extra_memory(name, "train")
        print(
            f"peak memory above the built model: check {m_check:.0f} MB, training step "
            f"{m_train:.0f} MB"
        )


if __name__ == "__main__":
    main()
