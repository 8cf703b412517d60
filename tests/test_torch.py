"""initlab.torch: check and apply on PyTorch modules."""

import copy
import itertools
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import initlab.torch as itorch  # noqa: E402
from initlab import get_initializer  # noqa: E402
from initlab.torch._check import (  # noqa: E402
    INPUTS_ZERO,
    NEXT_ZERO,
    OWN_ZERO,
    looks_like_torch_default,
)

pytestmark = pytest.mark.torch


def mlp(sizes, act=nn.ReLU):
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def batch(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def codes(diagnosis):
    return {f.code for f in diagnosis.findings}


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.BatchNorm2d(8),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.BatchNorm2d(16),
            nn.MaxPool2d(2),
            nn.Dropout(0.2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 4 * 4, 10))

    def forward(self, x):
        return self.head(self.features(x))


class Block(nn.Module):
    """A ResNet basic block: the shortcut is added in place, then the shared ReLU again."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += x
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blocks = nn.Sequential(Block(8), Block(8))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = torch.relu(self.stem(x))  # functional: invisible to hooks
        return self.fc(self.pool(self.blocks(x)).flatten(1))


# --------------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------------


def test_importing_initlab_does_not_import_torch_and_missing_torch_names_the_extra():
    code = (
        "import sys\n"
        "import initlab\n"
        "assert 'torch' not in sys.modules\n"
        "sys.modules['torch'] = None  # as if PyTorch were not installed\n"
        "import initlab.torch\n"
        "try:\n"
        "    initlab.torch.check(None, None)\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "initlab.torch needs PyTorch: pip install 'initlab[torch]'"


# --------------------------------------------------------------------------------------------
# check: what it finds
# --------------------------------------------------------------------------------------------


def zeroed_mlp():
    torch.manual_seed(0)
    model = mlp([16, 64, 64, 64, 3])
    with torch.no_grad():
        model[2].weight.zero_()
        model[2].bias.zero_()
    return model


def test_check_names_the_zero_layer_and_the_gradients_it_kills():
    model = zeroed_mlp()
    d = itorch.check(model, batch(128, 16))
    causes = {b.name: b.cause for b in d.blocks if b.zero}
    # 2 = relu(W a + b) with W = 0, b = 0: z = 0 where relu' = 0, so 2 gets no error; 0 feeds
    # it, so its error W2^T delta is zero; 4 reads relu(0) = 0, so its dW = delta a^T is zero.
    assert causes == {
        "0.weight": NEXT_ZERO,
        "0.bias": NEXT_ZERO,
        "2.weight": OWN_ZERO,
        "2.bias": OWN_ZERO,
        "4.weight": INPUTS_ZERO,
    }
    zero = [f for f in d.findings if f.code == "zero_weights"]
    assert [f.layer for f in zero] == ["2"]
    assert zero[0].severity == "error"
    for name in causes:
        assert name in zero[0].message
    assert "zero_gradient" in codes(d)
    assert d.verdict == "dead"
    assert next(r for r in d.layers if r.name == "2").dead_units == list(range(64))


def test_check_causes_agree_with_a_plain_backward_pass():
    # Oracle: the gradients of the same default loss by loss.backward() on a copy.
    model = zeroed_mlp()
    x, y = batch(64, 16), torch.arange(64) % 3
    d = itorch.check(model, x, y)
    twin = copy.deepcopy(model)
    loss = nn.functional.cross_entropy(twin(x), y)
    loss.backward()
    assert d.loss == pytest.approx(float(loss.detach()), rel=1e-6)
    for b in d.blocks:
        g = twin.get_parameter(b.name).grad
        assert b.grad_norm == pytest.approx(float(g.double().norm()), rel=1e-5, abs=1e-12)
        assert b.zero == (not bool(g.any()))


def test_check_finds_layers_copied_from_one_initialized_layer():
    torch.manual_seed(0)
    hidden = nn.Linear(64, 64)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU())
    for _ in range(3):
        model.extend([copy.deepcopy(hidden), nn.ReLU()])
    model.append(nn.Linear(64, 3))
    d = itorch.check(model, batch(128, 16))
    copied = [f for f in d.findings if f.code == "copied_layer"]
    assert len(copied) == 1
    assert "identical across layers" in copied[0].message
    assert all(name in copied[0].message for name in ("2", "4", "6"))


def test_tied_weights_are_not_copies():
    torch.manual_seed(0)
    model = mlp([16, 16, 16, 16])
    model[2].weight = model[0].weight  # one Parameter used twice
    assert "copied_layer" not in codes(itorch.check(model, batch(32, 16)))


def deep_default_mlp():
    torch.manual_seed(0)
    return mlp([64] + [256] * 30 + [10])


def test_deep_relu_mlp_with_torch_default_start_vanishes():
    d = itorch.check(deep_default_mlp(), batch(128, 64))
    assert d.verdict == "vanishing"
    f = next(f for f in d.findings if f.code == "torch_default")
    assert f.message.startswith("activation std falls by ")
    assert f.message.endswith(
        "x per layer: torch's default gives Var = 1/(3 fan_in), He gives 2/fan_in"
    )
    # Var(z') = fan_in * Var(W) * E[relu(z)^2] = (1/3)(1/2) Var(z): a fall of sqrt(6) = 2.45
    # per layer; the first layer also halves the input's variance through the ReLU.
    fall = float(f.message.split("falls by ")[1].split("x")[0])
    assert 2.2 < fall < 3.0
    assert "'he_normal'" in f.suggestion


def test_apply_turns_each_unhealthy_case_healthy():
    x = batch(128, 64)
    model = deep_default_mlp()
    itorch.apply(model, "he_normal", random_state=0)
    d = itorch.check(model, x)
    assert d.verdict == "healthy"
    assert "torch_default" not in codes(d)

    model = zeroed_mlp()
    itorch.apply(model, "he_normal", random_state=0)
    d = itorch.check(model, batch(128, 16))
    assert d.verdict == "healthy" and not any(b.zero for b in d.blocks)

    torch.manual_seed(0)
    model = mlp([16, 64, 64, 64, 3])
    model[4] = copy.deepcopy(model[2])
    itorch.apply(model, "auto", random_state=0)
    d = itorch.check(model, batch(128, 16))
    assert d.verdict == "healthy" and "copied_layer" not in codes(d)


def test_constant_start_is_symmetric_and_apply_fixes_it():
    model = mlp([8, 32, 32, 2])
    itorch.apply(model, "constant(value=0.1)")
    d = itorch.check(model, batch(64, 8))
    assert d.verdict == "symmetric"
    assert [r.effective_width for r in d.layers] == [1, 1, None]
    assert d.layers[0].groups == [list(range(32))]
    itorch.apply(model, "he_normal", random_state=1)
    assert itorch.check(model, batch(64, 8)).verdict == "healthy"


def test_tolerance_groups_units_that_differ_by_rounding():
    model = mlp([8, 32, 2])
    itorch.apply(model, "constant(value=0.1)")
    with torch.no_grad():
        model[0].weight.add_(1e-7 * batch(32, 8))
    x = batch(64, 8)
    assert itorch.check(model, x).layers[0].effective_width == 32  # exact: all differ
    # Entries differ by at most 1e-7 * 4.5 (a normal draw's largest of 256), well under 1e-5.
    assert itorch.check(model, x, atol=1e-5).layers[0].effective_width == 1


def test_zero_scale_of_a_residual_branch_norm_is_explained_not_condemned():
    torch.manual_seed(0)
    model = ResNet()
    itorch.apply(model, "he_normal", random_state=0)
    with torch.no_grad():
        model.blocks[0].bn2.weight.zero_()  # Goyal et al.: the branch starts as the identity
    model.fc.requires_grad_(False)
    d = itorch.check(model, batch(16, 3, 8, 8))
    causes = {b.name: b.cause for b in d.blocks if b.zero}
    # At the first step the whole branch before bn2 gets no error; the shortcut still carries it
    # to the stem, and bn2's own scale gets a gradient, so it moves.
    later = "the error reaching this layer is zero: it is already zero at blocks.0."
    assert causes == {
        "blocks.0.conv1.weight": later + "bn1",
        "blocks.0.bn1.weight": later + "conv2",
        "blocks.0.bn1.bias": later + "conv2",
        "blocks.0.conv2.weight": NEXT_ZERO,
    }
    f = next(f for f in d.findings if f.code == "zero_weights")
    assert f.layer == "blocks.0.bn2" and f.severity == "info"
    assert all(name in f.message for name in causes)
    assert any(n.startswith("Frozen") and "fc.weight" in n for n in d.notes)


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("torch_linear", True),
        ("he_uniform", False),
        ("lecun_uniform", False),
        ("glorot_uniform", False),
        ("he_normal", False),
        ("uniform(low=-0.2, high=0.2)", False),
    ],
)
def test_torch_default_is_recognized_from_variance_and_bound(spec, expected):
    torch.manual_seed(0)
    assert looks_like_torch_default(nn.Linear(50, 40).weight)
    assert looks_like_torch_default(nn.Conv2d(8, 16, 3).weight)
    W = get_initializer(spec)(np.random.default_rng(0), (40, 50))
    assert looks_like_torch_default(torch.from_numpy(W)) == expected


# --------------------------------------------------------------------------------------------
# check: which modules, which activations
# --------------------------------------------------------------------------------------------


def test_small_cnn_analyses_conv_norm_linear_and_lists_the_rest():
    torch.manual_seed(0)
    model = SmallCNN()
    itorch.apply(model, "auto", random_state=0)
    d = itorch.check(model, batch(32, 3, 16, 16))
    assert [r.name for r in d.layers] == [
        "features.0",
        "features.2",
        "features.4",
        "features.6",
        "head.1",
    ]
    assert [r.activation for r in d.layers] == ["relu", "linear", "relu", "linear", "linear"]
    assert d.verdict == "healthy", d
    note = next(n for n in d.notes if n.startswith("Not analysed"))
    for name in ("features.3 (MaxPool2d)", "features.8 (Dropout)", "head.0 (Flatten)"):
        assert name in note
    assert d.model == "SmallCNN"
    # features.4 feeds batch norm, not a Linear/Conv: its effective width is incoming only.
    assert any("incoming weights and bias only" in n and "features.4" in n for n in d.notes)


def test_residual_block_with_custom_forward():
    torch.manual_seed(0)
    model = ResNet()
    itorch.apply(model, "he_normal", random_state=0)
    d = itorch.check(model, batch(16, 3, 8, 8))
    by = {r.name: r for r in d.layers}
    assert list(by) == [
        "stem",
        "blocks.0.conv1",
        "blocks.0.bn1",
        "blocks.0.conv2",
        "blocks.0.bn2",
        "blocks.1.conv1",
        "blocks.1.bn1",
        "blocks.1.conv2",
        "blocks.1.bn2",
        "fc",
    ]
    # The in-place ReLU after bn1 is its activation; the ReLU after the in-place shortcut add
    # reads bn2's output changed by the add, so bn2 has none; F.relu after stem is invisible.
    assert by["blocks.0.bn1"].activation == "relu"
    assert by["blocks.0.bn2"].activation == "linear"
    assert by["stem"].activation == "linear"
    # bn1's z is taken before the in-place ReLU overwrote it.
    assert by["blocks.0.bn1"].preact_mean == pytest.approx(0.0, abs=1e-5)
    assert by["blocks.0.bn1"].act_mean > 0.3
    assert d.verdict == "healthy", d
    assert any(n.startswith("Not analysed") and "pool (AdaptiveAvgPool2d)" in n for n in d.notes)


def test_embedding_model_is_analysed_against_its_first_layer():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Embedding(50, 16),
        nn.Flatten(),
        nn.Linear(16 * 6, 8),
        nn.Tanh(),
        nn.LayerNorm(8),
        nn.Linear(8, 2),
    )
    tokens = torch.randint(0, 50, (32, 6), generator=torch.Generator().manual_seed(0))
    d = itorch.check(model, tokens, torch.arange(32) % 2)
    assert [r.name for r in d.layers] == ["0", "2", "4", "5"]
    assert d.layers[1].activation == "tanh" and d.layers[1].saturated_share is not None
    assert any("holds indices" in n for n in d.notes)
    assert d.loss is not None


# --------------------------------------------------------------------------------------------
# check: it changes nothing
# --------------------------------------------------------------------------------------------


def state(model):
    return (
        {k: v.detach().clone() for k, v in model.state_dict().items()},
        {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()},
        [m.training for m in model.modules()],
        torch.get_rng_state(),
    )


def assert_same(a, b):
    for key in a[0]:
        assert torch.equal(a[0][key], b[0][key]), key  # bit for bit, buffers included
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        assert (a[1][key] is None) == (b[1][key] is None), key
        assert a[1][key] is None or torch.equal(a[1][key], b[1][key]), key
    assert a[2] == b[2]
    assert torch.equal(a[3], b[3])


@pytest.mark.parametrize("train", [True, False])
def test_check_leaves_the_model_and_torch_rng_unchanged(train):
    torch.manual_seed(0)
    model = SmallCNN()
    x = batch(8, 3, 16, 16)
    model(x).sum().backward()  # some .grad set ...
    model.head[1].bias.grad = None  # ... and one not
    model.train(train)
    model.features[2].eval()  # mixed flags
    before = state(model)
    itorch.check(model, x)
    itorch.check(model, x, torch.arange(8) % 10)
    assert_same(before, state(model))


def test_check_removes_its_hooks_even_on_error():
    model = mlp([20, 8, 2])
    with pytest.raises(ValueError, match=r"\(batch, 20\)"):
        itorch.check(model, batch(4, 10))
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks


def test_check_works_under_no_grad():
    torch.manual_seed(0)
    model = mlp([8, 16, 2])
    with torch.no_grad():
        d = itorch.check(model, batch(16, 8))
    assert not any(b.zero for b in d.blocks)


# --------------------------------------------------------------------------------------------
# check: errors
# --------------------------------------------------------------------------------------------


def test_bad_example_input_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"must have shape \(batch, 20\) to fit the first layer"):
        itorch.check(mlp([20, 8, 2]), batch(4, 10))
    conv = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(ValueError, match=r"\(batch, 3, height, width\).*Got shape \(4, 1, 8, 8\)"):
        itorch.check(conv, batch(4, 1, 8, 8))
    with pytest.raises(ValueError, match="at least 2 samples"):
        itorch.check(mlp([20, 2]), batch(1, 20))
    with pytest.raises(ValueError, match="'example_input' parameter of check must be"):
        itorch.check(mlp([20, 2]), np.zeros((4, 20)))
    with pytest.raises(ValueError, match="the output's shape"):
        itorch.check(mlp([20, 2]), batch(4, 20), batch(4, 3))


# --------------------------------------------------------------------------------------------
# apply
# --------------------------------------------------------------------------------------------


def test_apply_draws_what_initlab_draws_for_the_same_seed():
    model = mlp([5, 7, 3]).double()
    summary = itorch.apply(model, "torch_linear", random_state=3)
    rng = np.random.RandomState(3)
    init = get_initializer("torch_linear")
    for name in ("0", "2"):
        layer = model.get_submodule(name)
        shape = tuple(layer.weight.shape)
        assert np.array_equal(layer.weight.detach().numpy(), init(rng, shape))
        assert np.array_equal(layer.bias.detach().numpy(), init.bias(rng, shape))
        assert summary[name]["scheme"] == "torch_linear"
        assert summary[name]["new_std"] == pytest.approx(
            float(layer.weight.detach().std(correction=0))
        )


def test_apply_bias_rules():
    model = mlp([5, 7, 3])
    itorch.apply(model, "he_normal", random_state=0)
    assert not model[0].bias.any()
    with torch.no_grad():
        model[0].bias.fill_(0.5)
    itorch.apply(model, "he_normal", random_state=0, bias="keep")
    assert bool((model[0].bias == 0.5).all())
    with pytest.raises(ValueError, match="'bias' parameter of apply"):
        itorch.apply(model, "he_normal", bias="random")


def test_apply_auto_and_zero_hadamard():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.SELU(), nn.Linear(8, 2))
    summary = itorch.apply(model, "auto")
    assert [s["scheme"] for s in summary.values()] == [
        "glorot_uniform",
        "lecun_normal",
        "glorot_uniform",
    ]
    itorch.apply(model, "zero_hadamard")
    assert torch.equal(model[2].weight, torch.eye(8))
    # With a batch, what runs decides: conv -> batch norm -> ReLU is a ReLU layer; F.relu and a
    # ReLU after the in-place shortcut add are not seen.
    summary = itorch.apply(ResNet(), "auto", example_input=batch(4, 3, 8, 8))
    assert {k: v["activation"] for k, v in summary.items()} == {
        "stem": "linear",
        "blocks.0.conv1": "relu",
        "blocks.0.conv2": "linear",
        "blocks.1.conv1": "relu",
        "blocks.1.conv2": "linear",
        "fc": "linear",
    }


def test_apply_lsuv_brings_each_output_variance_to_one():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 36, 32),
        nn.Tanh(),
        nn.Linear(32, 32),
        nn.ReLU(),
        nn.Linear(32, 4),
    )
    x = batch(64, 3, 6, 6) * 5
    tol = 0.05
    summary = itorch.apply(model, f"lsuv(tol={tol})", example_input=x, random_state=0)
    variances = {}
    hooks = [
        model.get_submodule(name).register_forward_hook(
            lambda m, i, out, name=name: variances.__setitem__(
                name, float(out.double().var(correction=0))
            )
        )
        for name in summary
    ]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    for name, s in summary.items():
        assert abs(float(variances[name]) - 1) < tol, (name, s)
        assert s["output_variance"] == pytest.approx(float(variances[name]), rel=1e-6)
        assert not model.get_submodule(name).bias.any()


def test_apply_errors_change_nothing():
    model = mlp([5, 7, 3])
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="he_normal"):
        itorch.apply(model, "he_normall")
    with pytest.raises(ValueError, match="'example_input' parameter of apply is required"):
        itorch.apply(model, "lsuv")
    with pytest.raises(ValueError, match=r"\(batch, 5\)"):
        itorch.apply(model, "lsuv", example_input=batch(8, 4))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


MODEL_FILE = """
import torch
from torch import nn


def deep():
    torch.manual_seed(0)
    layers = []
    for _ in range(20):
        layers += [nn.Linear(64, 64), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(64, 3))


def healthy():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2))
    return model


def not_a_model():
    return 3
"""


def test_check_command_on_a_pytorch_file(tmp_path, capsys):
    import json

    from initlab import cli

    (tmp_path / "model.py").write_text(MODEL_FILE)
    target = str(tmp_path / "model.py")
    assert cli.main(["check", f"{target}:deep", "--input-shape", "32,64", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "vanishing"
    assert cli.main(["check", f"{target}:healthy", "--input-shape", "32,8"]) == 0
    capsys.readouterr()
    for argv, message in [
        ([f"{target}:missing", "--input-shape", "4,8"], "has no function 'missing'"),
        ([f"{target}:not_a_model", "--input-shape", "4,8"], "must return a torch.nn.Module"),
        ([f"{target}:healthy", "--input-shape", "4,5"], "does not fit the model"),
        ([f"{target}:healthy"], "--input-shape is needed"),
        ([f"{target}:healthy", "--input-shape", "4,x"], "--input-shape must be positive"),
    ]:
        assert cli.main(["check", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
