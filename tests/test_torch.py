"""initlab.torch: check and apply on PyTorch modules."""

import copy
import io
import itertools
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import initlab.torch as itorch  # noqa: E402
from initlab import get_initializer  # noqa: E402
from initlab.torch._layers import looks_like_torch_default  # noqa: E402
from initlab.torch._zeros import INPUTS_ZERO, NEXT_ZERO, OWN_ZERO  # noqa: E402

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
    # PyTorch's default biases keep 4's output (its bias) positive in places: 4.bias learns.
    assert causes == {
        "0.weight": NEXT_ZERO,
        "0.bias": NEXT_ZERO,
        "2.weight": OWN_ZERO,
        "2.bias": OWN_ZERO,
        "4.weight": INPUTS_ZERO,
    }
    zero = [f for f in d.findings if f.code == "zero_weights"]
    assert [f.layer for f in zero] == ["2"]
    assert zero[0].severity == "error" and "never moves" in zero[0].message
    for name in ("0.weight", "0.bias", "4.weight"):
        assert name in zero[0].message
    # Its own gradient is zero too: stuck, worse than its units being dead.
    assert d.verdict == "stuck"
    assert next(r for r in d.layers if r.name == "2").verdict == "stuck"


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
    assert "are copies" in copied[0].message and copied[0].severity == "warning"
    assert all(name in copied[0].message for name in ("2", "4", "6"))
    assert copied[0].fix == {"spec": "auto", "layers": ["4", "6"]}  # the first one is kept


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
    # relu's edge of chaos is sigma_w^2 = 2 (He): initlab.meanfield.critical_sigma_w.
    assert f.message.endswith(
        "x per layer: torch's default gives Var = 1/(3 fan_in), where relu keeps it with "
        "Var = 2/fan_in (the edge of chaos)"
    )
    # Var(z') = fan_in * Var(W) * E[relu(z)^2] = (1/3)(1/2) Var(z): a fall of sqrt(6) = 2.45
    # per layer; the first layer also halves the input's variance through the ReLU.
    fall = float(f.message.split("falls by ")[1].split("x")[0])
    assert 2.2 < fall < 3.0
    assert f.fix["spec"] == "auto" and len(f.fix["layers"]) == 31


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
    f = next(f for f in d.findings if f.code == "zero_start")
    assert f.layer == "blocks.0.bn2" and f.severity == "info"
    assert "4 parameters" in f.message and "from step 2" in f.message
    assert d.verdict == "healthy"
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


def test_small_cnn_analyses_conv_norm_linear():
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
    assert [r.family for r in d.layers] == ["weight", "norm", "weight", "norm", "weight"]
    assert d.verdict == "healthy", d
    assert d.coverage == 1.0 and d.unanalysed == []
    assert d.model == "SmallCNN"


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
        "blocks.0 +1",
        "blocks.1.conv1",
        "blocks.1.bn1",
        "blocks.1.conv2",
        "blocks.1.bn2",
        "blocks.1 +1",
        "fc",
    ]
    # The in-place ReLU after bn1 is its activation; the ReLU after the in-place shortcut add
    # reads the sum, so bn2 has none; torch.relu after stem, a function call, is seen.
    assert by["blocks.0.bn1"].activation == "relu"
    assert by["blocks.0.bn2"].activation == "linear"
    assert by["stem"].activation == "relu"
    assert by["blocks.0 +1"].role == "residual stream" and by["blocks.0 +1"].family == "add"
    # bn1's z is taken before the in-place ReLU overwrote it.
    assert by["blocks.0.bn1"].preact_mean == pytest.approx(0.0, abs=1e-5)
    assert by["blocks.0.bn1"].act_mean > 0.3
    assert d.verdict == "healthy", d


def test_embedding_model_starts_its_chain_at_the_embedding():
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
    assert d.layers[1].reference == "0"  # compared with the embedding's output
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
    # With a batch, what runs decides: conv -> batch norm -> ReLU is a ReLU layer, and so is
    # the stem, whose torch.relu is a function call; the ReLU after the in-place shortcut add
    # reads the sum, not conv2's output.
    summary = itorch.apply(ResNet(), "auto", example_input=batch(4, 3, 8, 8))
    acts = {k: v["activation"] for k, v in summary.items() if v["kind"] != "BatchNorm2d"}
    assert acts == {
        "stem": "relu",
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


# --------------------------------------------------------------------------------------------
# check: it changes nothing, and the same call gives the same result
# --------------------------------------------------------------------------------------------


def test_embedding_max_norm_is_not_renormalized_by_the_probe():
    # nn.Embedding(max_norm=1) renormalizes the rows it looks up, in place, in every forward.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(20, 8, max_norm=1.0), nn.Flatten(), nn.Linear(24, 2))
    with torch.no_grad():
        model[0].weight.mul_(5)  # rows of norm about 14: a forward pass would shrink them
    before = model[0].weight.detach().clone()
    itorch.check(model, torch.randint(0, 20, (16, 3), generator=torch.Generator().manual_seed(0)))
    assert torch.equal(model[0].weight, before)


def test_lazy_layers_are_refused_and_left_lazy():
    # Materializing would draw the weights from torch's generator and change the model: a
    # check must not, so it says what to do instead.
    model = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(ValueError, match=r"'0' \(LazyLinear\).*is lazy.*run one forward pass"):
        itorch.check(model, batch(4, 5))
    assert isinstance(model[0].weight, nn.parameter.UninitializedParameter)
    with pytest.raises(ValueError, match="is lazy"):
        itorch.apply(model, "he_normal")


class DrawsInForward(nn.Module):
    """A forward that draws from NumPy's and Python's global generators (noise injection)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        import random

        noise = float(np.random.standard_normal()) + random.random()  # noqa: NPY002
        return self.fc(x) + noise


def test_numpy_and_python_random_states_are_put_back():
    import random

    np.random.seed(5)  # noqa: NPY002
    random.seed(5)
    np_before, py_before = np.random.get_state()[1].copy(), random.getstate()  # noqa: NPY002
    itorch.check(DrawsInForward(), batch(8, 4))
    assert np.array_equal(np.random.get_state()[1], np_before)  # noqa: NPY002
    assert random.getstate() == py_before


def test_the_same_call_gives_the_same_result_bit_for_bit():
    # Dropout in training mode draws from torch's generator: seeded for the probe, so that
    # what ran before does not change the result.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 3))
    x = batch(32, 16)
    torch.manual_seed(1)
    a = itorch.check(model, x)
    torch.manual_seed(2)
    b = itorch.check(model, x)
    assert a.to_dict() == b.to_dict()


# --------------------------------------------------------------------------------------------
# check: what it sees
# --------------------------------------------------------------------------------------------


class Functional(nn.Module):
    """Activations called as functions and a custom activation module."""

    class Swish(nn.Module):
        def forward(self, x):
            return x * torch.sigmoid(x)

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c, self.d = (nn.Linear(16, 16) for _ in range(4))
        self.act = self.Swish()

    def forward(self, x):
        x = nn.functional.gelu(self.a(x))
        x = torch.tanh(self.b(x))
        x = self.c(x).sigmoid()
        return self.act(self.d(x))


def test_functional_and_behavioural_activations_are_seen():
    torch.manual_seed(0)
    d = itorch.check(Functional(), batch(32, 16))
    assert [r.activation for r in d.layers] == ["gelu", "tanh", "sigmoid", "silu"]


class TinyMoE(nn.Module):
    """Experts stacked in one raw parameter, each used through F.linear on its slice."""

    def __init__(self, experts=3, d=16, hidden=32):
        super().__init__()
        self.router = nn.Linear(d, experts)
        self.w_in = nn.Parameter(torch.randn(experts, hidden, d) / d**0.5)
        self.w_out = nn.Parameter(torch.randn(experts, d, hidden) / hidden**0.5)

    def forward(self, x):
        gate = torch.softmax(self.router(x), dim=-1)
        out = 0
        for e in range(self.w_in.shape[0]):
            h = nn.functional.relu(nn.functional.linear(x, self.w_in[e]))
            out = out + gate[:, e : e + 1] * nn.functional.linear(h, self.w_out[e])
        return out


def test_raw_parameters_used_as_weights_are_analysed_and_redrawn():
    torch.manual_seed(0)
    model = TinyMoE()
    d = itorch.check(model, batch(32, 16))
    by = {r.name: r for r in d.layers}
    assert by["w_in"].family == "param" and by["w_in"].activation == "relu"
    assert d.coverage == 1.0
    assert any("w_in is called 3 times" in n for n in d.notes)
    with torch.no_grad():
        model.w_in.zero_()
    summary = itorch.apply(model, "he_normal", example_input=batch(8, 16), random_state=0)
    # One draw per expert of its (out, in) = (32, 16) slice: He's std sqrt(2 / 16) each.
    assert summary["w_in"]["scheme"] == "he_normal"
    for e in range(3):
        assert float(model.w_in[e].detach().std()) == pytest.approx((2 / 16) ** 0.5, rel=0.15)


class SwiGLU(nn.Module):
    def __init__(self, d=16, hidden=32):
        super().__init__()
        self.gate, self.up = nn.Linear(d, hidden, bias=False), nn.Linear(d, hidden, bias=False)
        self.down = nn.Linear(hidden, d, bias=False)

    def forward(self, x):
        return self.down(nn.functional.silu(self.gate(x)) * self.up(x))


@pytest.mark.parametrize("copy_up", [True, False])
def test_gated_units_are_equal_only_when_gate_up_and_down_all_are(copy_up):
    # A SwiGLU unit i is (gate row i, up row i, down column i): units 0..7 share the gate row,
    # and also the up row and the down column only when copy_up.
    torch.manual_seed(0)
    model = nn.Sequential(SwiGLU(), nn.Linear(16, 4))
    mlp = model[0]
    with torch.no_grad():
        mlp.gate.weight[:8] = mlp.gate.weight[0]
        if copy_up:
            mlp.up.weight[:8] = mlp.up.weight[0]
            mlp.down.weight[:, :8] = mlp.down.weight[:, :1]
    d = itorch.check(model, batch(64, 16))
    gate = next(r for r in d.layers if r.name == "0.gate")
    assert gate.effective_width == (25 if copy_up else 32)
    assert (d.verdict == "symmetric") == copy_up


def test_attention_recurrent_transposed_and_other_norms_are_analysed():
    torch.manual_seed(0)

    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.ConvTranspose1d(4, 8, 3)
            self.inorm = nn.InstanceNorm1d(8, affine=True)
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.gru = nn.GRU(8, 8, batch_first=True)
            self.rms = nn.RMSNorm(8)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            h = self.inorm(self.up(x)).transpose(1, 2)
            h = h + self.attn(h, h, h)[0]
            return self.head(self.rms(self.gru(h)[0]))

    model = Mixed()
    d = itorch.check(model, batch(8, 4, 10))
    kinds = {r.name: (r.family, r.kind) for r in d.layers if r.family != "add"}
    assert kinds == {
        "up": ("weight", "ConvTranspose1d"),
        "inorm": ("norm", "InstanceNorm1d"),
        "attn": ("attention", "MultiheadAttention"),
        "gru": ("recurrent", "GRU"),
        "rms": ("norm", "RMSNorm"),
        "head": ("weight", "Linear"),
    }
    assert d.coverage == 1.0, d.unanalysed  # MultiheadAttention's out_proj included
    assert not [n for n in d.notes if n.startswith("Not called")]


def test_large_tensors_are_compared_without_crashing():
    # More than 2^24 entries: a float32 linspace of sample positions rounds past the end (the
    # IndexError GPT-2's and BERT's token embeddings hit). Two equal ones are found as copies.
    torch.manual_seed(0)
    emb = nn.Embedding(50257, 768)
    model = nn.ModuleList([emb, copy.deepcopy(emb)])
    from initlab.torch._sharing import copies_of

    assert copies_of(model) == [["0", "1"]]
    net = nn.Sequential(emb, nn.Linear(768, 4))
    ids = torch.randint(0, 50257, (4, 8), generator=torch.Generator().manual_seed(0))
    d = itorch.check(net, ids)
    assert [r.name for r in d.layers] == ["0", "1"]


def render(d, width):
    from rich.console import Console

    console = Console(width=width, record=True, file=io.StringIO())
    console.print(d)
    return console.export_text()


def test_the_layer_table_reads_at_80_columns_with_gpt2_names():
    pytest.importorskip("transformers")
    import torch_models as tm

    d = itorch.check(tm.gpt2(n_layer=12), tm.tokens())
    text = render(d, 80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text  # nothing cut
    header = next(line for line in lines if line.lstrip().startswith("layer"))
    assert header.split() == ["layer", "act", "a", "std", "ratio", "role", "verdict"]
    # One line per row, the whole name and the whole verdict on it (GPT-2's longest names fit).
    rows = [line for line in lines if line.startswith(("transformer.", "lm_head"))]
    assert [line.split()[0] for line in rows] == [r.name.split()[0] for r in d.layers]
    assert all(line.rstrip().endswith("healthy") for line in rows)


def test_longer_names_fold_at_dots_at_80_columns():
    pytest.importorskip("transformers")
    import torch_models as tm

    d = itorch.check(tm.bert(), tm.tokens())
    lines = render(d, 80).splitlines()
    assert max(len(line) for line in lines) <= 80
    head = next(i for i, line in enumerate(lines) if line.lstrip().startswith("layer"))
    width = lines[head].index(" act ")  # the layer column
    names, verdicts = [], []
    for line in lines[head + 2 : head + 2 + 2 * len(d.layers)]:
        if line.startswith("Gradients"):
            break
        if line.startswith("  "):  # the rest of a folded name
            names[-1] += line[:width].strip()
        else:
            names.append(line[:width].strip())
            verdicts.append(line.split()[-1])
    assert names == [r.name for r in d.layers]
    assert verdicts == [r.verdict for r in d.layers]


@pytest.mark.parametrize("build", ["lora_mlp", "llama_zero_down", "resnet_zero"])
def test_reasoned_steps_agree_with_sgd_on_a_copy(build):
    # The step at which every parameter has a gradient, reasoned from the gradient graph, is
    # what a few SGD steps on a copy measure.
    pytest.importorskip("transformers")
    import torch_models as tm

    if build == "lora_mlp":
        model, x = tm.lora_mlp(), batch(32, 32)
    elif build == "llama_zero_down":
        model, x = tm.llama(), tm.tokens()
        with torch.no_grad():
            model.model.layers[0].mlp.down_proj.weight.zero_()
    else:
        model, x = tm.resnet18(zero_init_residual=True, width=8), tm.images(batch=4)
    found = []
    for measure in (False, True):
        d = itorch.check(model, x, measure_steps=measure)
        f = next(f for f in d.findings if f.code == "zero_start")
        found.append(f.message.split("from step ")[1].split(" ")[0])
        assert ("measured" in f.message) == measure
    assert found[0] == found[1] == "2"


# --------------------------------------------------------------------------------------------
# apply: a rule for every family
# --------------------------------------------------------------------------------------------


def test_apply_draws_conv1d_in_its_in_out_layout():
    # transformers' Conv1D keeps its weight as (in, out): the draw is initlab's (out, in) one,
    # transposed, so that He's fan-in is the 64 inputs, not the 256 outputs.
    pytest.importorskip("transformers")
    import torch_models as tm

    gpt2 = tm.gpt2()
    name = "transformer.h.0.mlp.c_fc"
    summary = itorch.apply(gpt2, "he_normal", layers=[name], random_state=3)
    W = get_initializer("he_normal")(np.random.RandomState(3), (256, 64))
    c_fc = gpt2.get_submodule(name)
    assert torch.equal(c_fc.weight, torch.from_numpy(W.T).float())
    assert summary[name]["scheme"] == "he_normal" and list(summary) == [name]


def test_apply_on_gpt2_keeps_the_first_loss_near_ln_v_and_the_tie():
    # The old apply re-drew only lm_head, tied to wte, with He: the embedding went from std
    # 0.02 to 0.125 and the first loss doubled. Now wte is drawn once, by the embedding rule,
    # N(0, 1/64): logits of std about 1, a first loss near ln V.
    pytest.importorskip("transformers")
    import torch_models as tm

    gpt2 = tm.gpt2()
    summary = itorch.apply(gpt2, "he_normal", example_input=tm.tokens(), random_state=0)
    assert gpt2.lm_head.weight is gpt2.transformer.wte.weight
    assert summary["lm_head"]["tied_to"] == "transformer.wte"
    d = itorch.check(gpt2, tm.tokens(), tm.tokens(seed=1))
    assert abs(d.loss - np.log(tm.VOCAB)) < 1, d.loss
    assert d.verdict == "healthy", d


def test_apply_draws_attention_projections_one_by_one():
    torch.manual_seed(0)
    attn = nn.MultiheadAttention(8, 2)
    itorch.apply(attn, "glorot_uniform", random_state=3)
    rng = np.random.RandomState(3)
    init = get_initializer("glorot_uniform")
    for k in range(3):  # query, key, value: each (8, 8), fan-in 8
        expected = torch.from_numpy(init(rng, (8, 8))).float()
        assert torch.equal(attn.in_proj_weight[8 * k : 8 * (k + 1)], expected)
    assert torch.equal(attn.out_proj.weight, torch.from_numpy(init(rng, (8, 8))).float())
    assert not attn.in_proj_bias.any() and not attn.out_proj.bias.any()


def test_apply_recurrent_rule_orthogonal_recurrence_and_forget_gate_one():
    torch.manual_seed(0)
    lstm = nn.LSTM(6, 5, num_layers=2)
    itorch.apply(lstm, "auto", random_state=0)
    for layer in range(2):
        W_hh = getattr(lstm, f"weight_hh_l{layer}").detach().double()
        for k in range(4):  # each gate's (5, 5) recurrent block is orthogonal
            Q = W_hh[5 * k : 5 * (k + 1)]
            assert torch.allclose(Q @ Q.T, torch.eye(5, dtype=torch.float64), atol=1e-6)
        b_ih = getattr(lstm, f"bias_ih_l{layer}").detach()
        assert torch.equal(b_ih[5:10], torch.ones(5))  # the forget gate (i, f, g, o)
        assert not b_ih[:5].any() and not b_ih[10:].any()
        assert not getattr(lstm, f"bias_hh_l{layer}").any()


def test_apply_embedding_and_norm_rules():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(1000, 64, padding_idx=0), nn.LayerNorm(64))
    bn = nn.BatchNorm1d(4)
    with torch.no_grad():
        model[1].weight.fill_(0.3)
        model[1].bias.fill_(0.2)
        bn.running_mean.fill_(5.0)
    summary = itorch.apply(model, "he_normal", random_state=0)
    w = model[0].weight.detach()
    assert not w[0].any()  # the padding row stays zero
    assert float(w[1:].std()) == pytest.approx(1 / 8, rel=0.02)  # N(0, 1/64), 64k draws
    assert summary["0"]["scheme"] == "normal(std=0.125)"
    assert torch.equal(model[1].weight, torch.ones(64)) and not model[1].bias.any()
    itorch.apply(bn, "he_normal")
    assert not bn.running_mean.any() and int(bn.num_batches_tracked) == 0


def test_apply_leaves_frozen_parameters_unless_asked():
    model = mlp([4, 8, 2])
    model[0].requires_grad_(False)
    before = model[0].weight.detach().clone()
    summary = itorch.apply(model, "he_normal", random_state=0)
    assert torch.equal(model[0].weight, before) and summary["0"]["frozen_kept"] == 2
    itorch.apply(model, "he_normal", random_state=0, include_frozen=True)
    assert not torch.equal(model[0].weight, before)


def test_apply_refuses_an_unknown_layer_and_changes_nothing():
    model = mlp([4, 8, 2])
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"'layers' parameter of apply must name layers .*'3'"):
        itorch.apply(model, "he_normal", layers=["0", "3"])
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_check_works_under_inference_mode():
    torch.manual_seed(0)
    model = mlp([8, 16, 2])
    with torch.inference_mode():
        x = batch(16, 8)
        d = itorch.check(model, x)
    assert d.verdict == "healthy" and not any(b.zero for b in d.blocks)


class ArgmaxOnly(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return int(self.fc(x).argmax())


def test_an_output_without_gradient_says_so_and_is_not_called_stuck():
    d = itorch.check(ArgmaxOnly(), batch(8, 4))
    assert d.verdict == "healthy" and d.blocks == []
    assert any(n.startswith("No backward pass") for n in d.notes)
