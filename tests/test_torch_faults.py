"""Deliberate faults in real architectures: each named with the right finding and verdict, and
then fixed by the check's own suggestion (``Finding.fix``, keyword arguments of
``initlab.torch.apply``), with ties kept and frozen weights untouched.

Each case states the expected verdict and its reason before initlab is run.
"""

import copy
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
nn = torch.nn

import initlab.torch as itorch  # noqa: E402
import torch_models as tm  # noqa: E402

# Over the whole corpus: a diagnosis called healthy never carries an error finding.
pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("healthy_means_no_error")]


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def finding(d, code):
    found = [f for f in d.findings if f.code == code]
    assert found, (code, d)
    return found[0]


def fix_and_recheck(model, d, code, example_input, **check_kwargs):
    """Apply the fix the check suggests for finding ``code``; return the new diagnosis."""
    f = finding(d, code)
    assert f.fix, f
    kwargs = {"example_input": example_input, "random_state": 0} | f.fix
    itorch.apply(model, **kwargs)
    return itorch.check(model, example_input, **check_kwargs)


def he_mlp(sizes, seed=0, act=nn.ReLU):
    model = tm.mlp(sizes, act=act, seed=seed)
    itorch.apply(model, "he_normal", random_state=seed)
    return model


# --------------------------------------------------------------------------------------------
# Zeros
# --------------------------------------------------------------------------------------------


def test_zeroed_hidden_layer_is_stuck_where_it_is_and_the_fix_unsticks_it():
    # relu(0 a + 0) = 0 where relu' = 0: layer 2 gets no error, so its own gradient is zero
    # too and it never moves; it blocks layer 0 (zero error) and layer 4 (zero input). Stuck,
    # and no convention explains an all-zero hidden layer.
    model = he_mlp([16, 64, 64, 64, 3])
    with torch.no_grad():
        model[2].weight.zero_()
        model[2].bias.zero_()
    x = randn(128, 16)
    d = itorch.check(model, x)
    assert d.verdict == "stuck", d
    f = finding(d, "zero_weights")
    assert f.layer == "2" and f.severity == "error"
    assert "never moves" in f.message
    for name in ("0.weight", "4.weight"):
        assert name in f.message
    assert f.fix["layers"] == ["2"]
    d = fix_and_recheck(model, d, "zero_weights", x)
    assert d.verdict == "healthy", d
    assert not any(b.zero for b in d.blocks)


@pytest.fixture
def gpt2():
    return tm.gpt2()


def test_zeroed_gpt2_mlp_is_stuck_and_found(gpt2):
    # c_fc = 0 and c_proj = 0 (weights and biases): gelu(0) = 0 feeds c_proj nothing, and
    # c_proj = 0 sends c_fc no error: each waits for the other, forever. Conv1D layers, the
    # (in, out) layout: the check must see them to find this at all.
    mlp = gpt2.transformer.h[0].mlp
    with torch.no_grad():
        for layer in (mlp.c_fc, mlp.c_proj):
            layer.weight.zero_()
            layer.bias.zero_()
    x = tm.tokens()
    d = itorch.check(gpt2, x)
    assert d.verdict == "stuck", d
    zero = [f for f in d.findings if f.code == "zero_weights"]
    assert {f.layer for f in zero} == {"transformer.h.0.mlp.c_fc", "transformer.h.0.mlp.c_proj"}
    assert all(f.severity == "error" and "never moves" in f.message for f in zero)
    d = fix_and_recheck(gpt2, d, "zero_weights", x)
    assert d.verdict == "healthy", d
    assert gpt2.lm_head.weight is gpt2.transformer.wte.weight  # the tie kept


def test_zeroed_down_proj_in_llama_is_a_zero_start_not_symmetry():
    # down_proj = 0 writes a zero branch into the residual stream; its own gradient (the error
    # times silu(gate) * up) is non-zero, so it moves at once and gate/up get theirs from the
    # second step. Units are not "equal": their incoming rows differ, and nothing may be
    # claimed about outgoing weights that were not compared.
    model = tm.llama()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.mlp.down_proj.weight.zero_()
    d = itorch.check(model, tm.tokens())
    assert d.verdict == "healthy", d
    assert "symmetric" not in {f.code for f in d.findings}
    f = finding(d, "zero_start")
    assert f.severity == "info" and "residual" in f.message and "from step 2" in f.message


def test_zero_final_norm_is_possibly_never_initialized(gpt2):
    # ln_f.weight = 0: the logits are 0 for every input and no block gets an error until
    # ln_f.weight moves (its own gradient is non-zero). No convention zeroes the scale of the
    # last norm before the head: possibly never initialized, the signal vanishes there.
    with torch.no_grad():
        gpt2.transformer.ln_f.weight.zero_()
    x = tm.tokens()
    d = itorch.check(gpt2, x)
    assert d.verdict == "vanishing", d
    f = d.findings[0]
    assert f.code == "never_initialized" and f.layer == "transformer.ln_f", d.findings
    assert "from step 2" in f.message
    d = fix_and_recheck(gpt2, d, "never_initialized", x)
    assert d.verdict == "healthy", d
    assert gpt2.lm_head.weight is gpt2.transformer.wte.weight


# --------------------------------------------------------------------------------------------
# Copies, sharing, symmetry
# --------------------------------------------------------------------------------------------


def test_deep_copied_gpt2_blocks_are_copies(gpt2):
    # Every block a deep copy of block 0: distinct tensors, equal values. They part at the
    # first step (each gets its own gradient), so a warning, not a failure.
    for i in range(1, len(gpt2.transformer.h)):
        gpt2.transformer.h[i] = copy.deepcopy(gpt2.transformer.h[0])
    x = tm.tokens()
    d = itorch.check(gpt2, x)
    assert d.verdict == "healthy", d
    f = finding(d, "copied_layer")
    assert f.severity == "warning"
    assert "transformer.h.0" in f.message and "transformer.h.1" in f.message
    d = fix_and_recheck(gpt2, d, "copied_layer", x)
    assert "copied_layer" not in {f.code for f in d.findings}
    assert d.verdict == "healthy", d


def test_interchangeable_gpt2_hidden_units_are_symmetric(gpt2):
    # All 256 hidden units of h.0's MLP share one c_fc column, one bias and one c_proj row: the
    # same function, the same gradient, equal for ever. Outgoing weights (c_proj's rows) are
    # compared, so the claim is made.
    mlp = gpt2.transformer.h[0].mlp
    with torch.no_grad():
        mlp.c_fc.weight.copy_(mlp.c_fc.weight[:, :1].expand_as(mlp.c_fc.weight))
        mlp.c_fc.bias.fill_(0.1)
        mlp.c_proj.weight.copy_(mlp.c_proj.weight[:1].expand_as(mlp.c_proj.weight))
    x = tm.tokens()
    d = itorch.check(gpt2, x)
    assert d.verdict == "symmetric", d
    f = finding(d, "symmetric")
    assert f.layer == "transformer.h.0.mlp.c_fc"
    r = next(r for r in d.layers if r.name == "transformer.h.0.mlp.c_fc")
    assert r.effective_width == 1 and r.units == 256
    d = fix_and_recheck(gpt2, d, "symmetric", x)
    assert d.verdict == "healthy", d


def test_one_block_registered_n_times_is_a_finding_of_its_own(gpt2):
    # nn.ModuleList([block] * n): one module at every depth, so one block's parameters used n
    # times. Not something a re-draw can fix: a warning naming the places.
    gpt2.transformer.h = nn.ModuleList([gpt2.transformer.h[0]] * 2)
    d = itorch.check(gpt2, tm.tokens())
    f = finding(d, "shared_module")
    assert f.severity == "warning"
    assert "transformer.h.0" in f.message and "transformer.h.1" in f.message
    assert f.fix is None


def test_reseeding_before_each_layer_repeats_one_draw():
    # torch.manual_seed(0) before each nn.Linear(64, 64): four equal hidden layers.
    layers = [nn.Linear(16, 64), nn.ReLU()]
    for _ in range(4):
        torch.manual_seed(0)
        layers += [nn.Linear(64, 64), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(64, 3))
    x = randn(64, 16)
    d = itorch.check(model, x)
    f = finding(d, "copied_layer")
    assert f.severity == "warning" and "seed" in f.suggestion
    for name in ("2", "4", "6", "8"):
        assert name in f.message
    d = fix_and_recheck(model, d, "copied_layer", x)
    assert "copied_layer" not in {f.code for f in d.findings}


# --------------------------------------------------------------------------------------------
# Output layer and loss
# --------------------------------------------------------------------------------------------


def test_std_one_tied_embeddings_explode_the_first_loss(gpt2):
    # wte ~ N(0, 1), tied to lm_head: logits = ln_f(h) . wte^T have std about sqrt(64) = 8, so
    # the first loss is far above ln V (the loss of a uniform prediction).
    with torch.no_grad():
        gpt2.transformer.wte.weight.normal_(0, 1, generator=torch.Generator().manual_seed(0))
    x = tm.tokens()
    target = tm.tokens(seed=1)
    for d in (itorch.check(gpt2, x), itorch.check(gpt2, x, target)):
        assert d.verdict == "exploding", d
        f = finding(d, "exploding")
        assert f.layer == "lm_head"
        assert f"ln({tm.VOCAB}) = {math.log(tm.VOCAB):.3g}" in f.message
        assert d.loss > 2 * math.log(tm.VOCAB)
    d = fix_and_recheck(gpt2, d, "exploding", x, target=target)
    assert d.verdict == "healthy", d
    assert abs(d.loss - math.log(tm.VOCAB)) < 1
    assert gpt2.lm_head.weight is gpt2.transformer.wte.weight


# --------------------------------------------------------------------------------------------
# Signal
# --------------------------------------------------------------------------------------------


def test_dead_relus_from_a_large_negative_bias():
    # He weights, bias -10 on layer 2: its pre-activations have std about 1.4, so every unit
    # sits below zero on every sample.
    model = he_mlp([16, 64, 64, 64, 3])
    with torch.no_grad():
        model[2].bias.fill_(-10.0)
    x = randn(128, 16)
    d = itorch.check(model, x)
    assert d.verdict == "dead", d
    f = finding(d, "dead")
    assert f.layer == "2" and "64 of 64" in f.message
    d = fix_and_recheck(model, d, "dead", x)
    assert d.verdict == "healthy", d


def test_tanh_at_ten_times_glorot_saturates_and_its_gradients_grow_toward_the_input():
    # Glorot x 10: pre-activations of std about 10, most |tanh| > 0.99 (the flat part), and
    # the chaotic phase: the error grows layer by layer toward the input.
    model = tm.mlp([32, 256, 256, 256, 256, 10], act=nn.Tanh)
    itorch.apply(model, "glorot_uniform(gain=10)", random_state=0)
    x = randn(256, 32)
    d = itorch.check(model, x)
    assert d.verdict == "saturated", d
    f = finding(d, "saturated")
    share = max(r.saturated_share for r in d.layers if r.saturated_share is not None)
    assert share > 0.5
    assert f"{share:.0%}" in f.message
    assert "toward the input" in f.message
    d = fix_and_recheck(model, d, "saturated", x)
    assert d.verdict == "healthy", d


def test_thirty_layer_sigmoid_mlp_vanishes_and_the_suggested_start_keeps_it():
    # PyTorch's default start on 30 sigmoid layers: sigmoid' <= 1/4 and Var(W) = 1/(3 fan_in),
    # the input's part of the signal falls by about 7x per layer. Glorot does not save it
    # either (1/4 per layer); mean-field theory's edge of chaos (sigma_w = 10.15) does.
    model = tm.mlp([64] + [256] * 30 + [10], act=nn.Sigmoid)
    x = randn(256, 64)
    d = itorch.check(model, x)
    assert d.verdict == "vanishing", d
    d = fix_and_recheck(model, d, "vanishing", x)
    assert d.verdict == "healthy", d


def test_deep_relu_mlp_at_the_torch_default_start_vanishes_and_he_fixes_it():
    model = tm.mlp([64] + [256] * 30 + [10])
    x = randn(128, 64)
    d = itorch.check(model, x)
    assert d.verdict == "vanishing"
    assert "torch_default" in {f.code for f in d.findings}
    d = fix_and_recheck(model, d, "torch_default", x)
    assert d.verdict == "healthy", d


# --------------------------------------------------------------------------------------------
# Never initialized, non-finite
# --------------------------------------------------------------------------------------------


@pytest.fixture
def deterministic_memory():
    # PyTorch fills uninitialized memory with NaN under deterministic algorithms: a way to
    # see what torch.empty, skip_init and to_empty hand out, the same on every run.
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


@pytest.mark.parametrize("how", ["skip_init", "to_empty"])
def test_never_initialized_weights_are_reported_first(how, deterministic_memory):
    torch.manual_seed(0)
    if how == "skip_init":
        hidden = nn.utils.skip_init(nn.Linear, 64, 64)
        model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), hidden, nn.ReLU(), nn.Linear(64, 3))
    else:
        with torch.device("meta"):
            model = tm.mlp([16, 64, 64, 3])
        model.to_empty(device="cpu")
    torch.use_deterministic_algorithms(False)
    x = randn(64, 16)
    d = itorch.check(model, x)
    assert d.verdict == "non-finite", d
    f = d.findings[0]
    assert f.code == "never_initialized" and f.severity == "error"
    assert "NaN" in f.message
    d = fix_and_recheck(model, d, "never_initialized", x)
    assert d.verdict == "healthy", d


def test_stale_memory_is_possibly_never_initialized():
    # What torch.empty returns without the deterministic fill: stale bytes, here the bit
    # patterns of small integers, which read as subnormal floats (below 1.2e-38). No random
    # draw produces those.
    model = he_mlp([16, 64, 64, 3])
    with torch.no_grad():
        model[2].weight.view(torch.int32).copy_(torch.arange(64 * 64).reshape(64, 64) % 977)
    x = randn(64, 16)
    d = itorch.check(model, x)
    assert d.verdict != "healthy", d
    f = d.findings[0]
    assert f.code == "never_initialized" and f.layer == "2" and "subnormal" in f.message
    d = fix_and_recheck(model, d, "never_initialized", x)
    assert d.verdict == "healthy", d


def test_non_finite_weights_and_inputs_give_the_non_finite_verdict():
    model = he_mlp([8, 16, 2])
    x = randn(32, 8)
    with torch.no_grad():
        model[0].weight[3, 1] = float("inf")
    assert itorch.check(model, x).verdict == "non-finite"
    model = he_mlp([8, 16, 2])
    x[5, 2] = float("nan")
    d = itorch.check(model, x)
    assert d.verdict == "non-finite"
    assert d.findings[0].code == "non-finite" and "input" in d.findings[0].message


# --------------------------------------------------------------------------------------------
# apply keeps what must be kept
# --------------------------------------------------------------------------------------------


def test_apply_leaves_frozen_weights_and_keeps_ties():
    # LoRA: the frozen base must not be re-drawn (it stands for pretrained weights).
    model = tm.lora_mlp()
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    itorch.apply(model, "auto", example_input=randn(8, 32), random_state=0)
    for n, p in model.named_parameters():
        if n in frozen:
            assert torch.equal(p, frozen[n]), n
    # GPT-2: lm_head is wte; one draw, the tie kept, the embedding at its own rule.
    gpt2 = tm.gpt2()
    summary = itorch.apply(gpt2, "auto", example_input=tm.tokens(), random_state=0)
    assert gpt2.lm_head.weight is gpt2.transformer.wte.weight
    assert "lm_head" not in summary or summary["lm_head"].get("tied_to") == "transformer.wte"
    std = float(gpt2.transformer.wte.weight.detach().std())
    assert abs(std - 1 / math.sqrt(64)) < 0.01  # N(0, 1/d): logits of std about 1


def test_a_chaotic_tanh_start_names_the_error_growing_toward_the_input():
    # Orthogonal with gain 3 on 8 tanh layers: chaotic (chi_1 > 1), not yet half saturated.
    # Oracle: the same error dL/dz = r / batch (r ~ N(0, 1), seed 0) backpropagated by plain
    # autograd, its rms at layer 0 over its rms at the last hidden layer.
    model = tm.mlp([32] + [256] * 8 + [10], act=nn.Tanh)
    itorch.apply(model, "orthogonal(gain=3)", random_state=0)
    x = randn(256, 32)
    d = itorch.check(model, x)
    f = finding(d, "exploding_gradient")
    assert f.severity == "warning" and "toward the input" in f.message
    zs = {}
    hooks = [
        model[i].register_forward_hook(lambda m, a, out, i=i: zs.__setitem__(i, out))
        for i in (0, 14)
    ]
    y = model(x)
    for h in hooks:
        h.remove()
    r = torch.randn(tuple(y.shape), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    g0, g14 = torch.autograd.grad((y * r.float()).sum() / len(x), [zs[0], zs[14]])
    expected = float(g0.pow(2).mean().sqrt() / g14.pow(2).mean().sqrt())
    assert f"grows {expected:.3g}x from 14 back to 0" in f.message
    d = fix_and_recheck(model, d, "exploding_gradient", x)
    assert "exploding_gradient" not in {f.code for f in d.findings}
    assert d.verdict == "healthy", d


# --------------------------------------------------------------------------------------------
# Recurrent layers: the gates inside
# --------------------------------------------------------------------------------------------


def _rnn(cls, scale, seed=0, **kw):
    torch.manual_seed(seed)  # nn.GRU and nn.LSTM draw their default start from the global one
    m = cls(32, 64, batch_first=True, **kw)
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(scale)
    return m


@pytest.mark.parametrize("cls", [nn.GRU, nn.LSTM])
def test_recurrent_gates_at_ten_times_their_default_start_are_saturated(cls):
    # PyTorch's default start, U(+-1/sqrt(64)), times 10: the gates' pre-activations have a
    # std of about 6 (32 inputs of std 1 and 64 states, weights of std 0.72), so the tanh gate
    # (GRU's candidate n, LSTM's cell candidate g) has |tanh| > 0.99 (|z| > 2.65) for about 60%
    # of its outputs: more than half flat, as an MLP's tanh layer would be judged. Expected:
    # saturated, the share of the gate in the summary.
    model, x = _rnn(cls, 10), randn(8, 20, 32)
    d = itorch.check(model, x)
    assert d.verdict == "saturated", d
    f = finding(d, "saturated")
    row = d.layers[0]
    assert row.saturated_share > 0.5
    assert f"{row.saturated_share:.0%}" in f.message and "(tanh)" in f.message, f.message
    # The suggested fix re-draws the recurrent weights by their own rule: no gate flat.
    d = fix_and_recheck(model, d, "saturated", x)
    assert d.verdict == "healthy", d
    assert d.layers[0].saturated_share < 0.05


@pytest.mark.parametrize("cls", [nn.GRU, nn.LSTM])
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_recurrent_layers_at_their_default_start_are_healthy(cls, layers, bidirectional):
    # U(+-1/sqrt(64)): pre-activations of std about 0.5, no gate anywhere near flat.
    m = _rnn(cls, 1, num_layers=layers, bidirectional=bidirectional)
    d = itorch.check(m, randn(8, 20, 32))
    assert d.verdict == "healthy", d
    assert d.layers[0].saturated_share < 0.01


def test_gru_gates_are_recomputed_as_torch_computes_them():
    # Oracle: PyTorch's own GRUCell, stepped by hand on the same weights. Its update gate z
    # and candidate n, formed from the documented equations, give back the GRU's own states:
    # h_t = (1 - z) n + z h_{t-1}; initlab's shares are counted from the same gates.
    from initlab.torch._gates import gate_saturation

    m = _rnn(nn.GRU, 10)
    x = randn(4, 6, 32)
    out, _ = m(x)
    cell = nn.GRUCell(32, 64)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in m.state_dict().items()})
    h = torch.zeros(4, 64)
    flat = total = 0
    with torch.no_grad():
        for t in range(6):
            gi = x[:, t] @ m.weight_ih_l0.T + m.bias_ih_l0
            gh = h @ m.weight_hh_l0.T + m.bias_hh_l0
            r = torch.sigmoid(gi[:, :64] + gh[:, :64])
            n = torch.tanh(gi[:, 128:] + r * gh[:, 128:])
            h_next = cell(x[:, t], h)
            z = torch.sigmoid(gi[:, 64:128] + gh[:, 64:128])
            assert torch.allclose((1 - z) * n + z * h, h_next, atol=1e-5)
            assert torch.allclose(h_next, out[:, t], atol=1e-5)
            flat += int((n.abs() > 0.99).sum())
            total += n.numel()
            h = h_next
    gates = gate_saturation(m, (x,), {}, out)
    assert gates.shares["candidate n (tanh)"][0] == pytest.approx(flat / total)
