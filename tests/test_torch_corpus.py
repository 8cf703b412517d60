"""initlab.torch.check on real architectures, each at its own library's default start.

Every case states, before initlab is run, the verdict an expert expects and why, and which
findings above "info" (warnings an expert would agree with) it may carry. A check that cries wolf
on BERT gets switched off; these are the models practitioners check first.
"""

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import initlab.torch as itorch  # noqa: E402
import torch_models as tm  # noqa: E402

# Over the whole corpus: a diagnosis called healthy never carries an error finding.
pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("healthy_means_no_error")]


def loud(d):
    """The findings above info, as (code, severity)."""
    return {(f.code, f.severity) for f in d.findings if f.severity != "info"}


def info(d, code):
    return [f for f in d.findings if f.code == code and f.severity == "info"]


def n_params(model, names=None):
    seen, total = set(), 0
    for name, p in model.named_parameters():
        if id(p) in seen or (names is not None and name not in names):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def by_name(d):
    return {r.name: r for r in d.layers}


# --------------------------------------------------------------------------------------------
# Hugging Face transformers
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpt2_check():
    model = tm.gpt2()
    return model, itorch.check(model, tm.tokens())


def test_gpt2_is_healthy_and_fully_seen(gpt2_check):
    # GPT-2's own start: N(0, 0.02) for wte, wpe and every Conv1D, the residual projections
    # c_proj at 0.02 / sqrt(2 n_layer), LayerNorm 1 and 0, pre-LN blocks, lm_head tied to wte.
    # Expected: healthy, no warning; every parameter analysed (Conv1D and LayerNorm included);
    # the MLP's activation (transformers' NewGELUActivation, a module of tanh and pow calls)
    # recognised as gelu; the tie reported as information; the first loss near ln V, since the
    # logits' std is about 0.02 sqrt(64) = 0.16.
    _, d = gpt2_check
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    assert d.coverage == 1.0 and d.unanalysed == []
    layers = by_name(d)
    assert layers["transformer.h.0.mlp.c_fc"].activation == "gelu"
    assert layers["transformer.h.0.mlp.c_fc"].kind == "Conv1D"
    assert layers["transformer.h.1.attn.c_attn"].units == 3 * 64
    tied = info(d, "tied")
    assert (
        tied and "lm_head.weight" in tied[0].message and "transformer.wte.weight" in tied[0].message
    )
    assert d.loss is not None and abs(d.loss - math.log(tm.VOCAB)) < 0.5


def test_gpt2_residual_branch_outputs_are_not_judged_on_their_own(gpt2_check):
    # c_proj's output is the small residual branch that GPT-2 scales down on purpose: it is a
    # branch, not a vanishing signal. The stream it is added to is what gets judged.
    _, d = gpt2_check
    layers = by_name(d)
    for name in ("transformer.h.0.attn.c_proj", "transformer.h.1.mlp.c_proj"):
        assert layers[name].role == "residual branch", layers[name]
        assert layers[name].verdict == "healthy"
    assert any(r.role == "residual stream" for r in d.layers)


def test_gpt2_with_a_small_initializer_range_is_healthy():
    # initializer_range 0.002: every branch tiny, the stream about the embeddings; LayerNorm
    # brings each branch's input back to std 1, which is not an explosion.
    d = itorch.check(tm.gpt2(initializer_range=0.002), tm.tokens())
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d


@pytest.mark.parametrize("build", [tm.bert, tm.roberta, tm.electra, tm.albert])
def test_bert_family_is_healthy_and_token_types_are_a_constant_input(build):
    # token_type_ids default to all zeros: token_type_embeddings is looked up with the single
    # index 0, so its spread over samples is zero by construction. That is recognised (info),
    # not called vanishing. Post-LN: every residual add is normalized at once.
    model = build()
    d = itorch.check(model, tm.tokens())
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    const = info(d, "constant_input")
    assert const and "token_type_embeddings" in const[0].message
    assert "index 0" in const[0].message
    assert d.coverage == 1.0, d.unanalysed


def test_albert_shares_one_layer_across_depth_on_purpose():
    # ALBERT calls one registered layer num_hidden_layers times (cross-layer sharing by
    # design): information, unlike nn.ModuleList([block] * n), which registers one module at n
    # places.
    d = itorch.check(tm.albert(), tm.tokens())
    assert not [f for f in d.findings if f.code == "shared_module"]
    assert any("called 2 times" in n for n in d.notes), d.notes


def test_distilbert_is_healthy():
    d = itorch.check(tm.distilbert(), tm.tokens())
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d


@pytest.mark.parametrize("build", [tm.llama, tm.mistral, tm.qwen2])
def test_llama_family_is_healthy_with_its_swiglu_seen(build):
    # N(0, 0.02) everywhere, RMSNorm scale 1, untied lm_head. The MLP is
    # down_proj(silu(gate_proj(x)) * up_proj(x)): gate_proj is followed by SiLU (a module in
    # transformers), up_proj by the gated product; RMSNorm (LlamaRMSNorm, a custom class) is
    # analysed as a normalization.
    model = build()
    d = itorch.check(model, tm.tokens())
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    layers = by_name(d)
    assert layers["model.layers.0.mlp.gate_proj"].activation == "silu"
    assert layers["model.layers.0.mlp.up_proj"].activation == "gated"
    assert layers["model.layers.0.input_layernorm"].family == "norm"
    assert d.coverage == 1.0, d.unanalysed


def test_t5_with_encoder_and_decoder_inputs_is_healthy():
    # T5's own start (normal with std d_model^-0.5 and the like, factor 1), T5LayerNorm (an RMS
    # norm), relative position buckets looked up from an Embedding; the forward takes
    # input_ids and decoder_input_ids, given as a dict of keyword arguments.
    model = tm.t5()
    batch = {"input_ids": tm.tokens(seed=0), "decoder_input_ids": tm.tokens(seed=1)}
    d = itorch.check(model, batch)
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    assert by_name(d)["encoder.final_layer_norm"].family == "norm"


@pytest.mark.parametrize("build, size", [(tm.vit, 32), (tm.vit_tiny, 224)])
def test_vit_is_healthy_and_says_what_it_did_not_analyse(build, size):
    # The attention output projections write small residual branches: not a vanishing signal.
    # cls_token and position_embeddings are raw nn.Parameters (concatenated and added inside
    # forward): not analysed, and the share of parameters they are is said.
    model = build()
    d = itorch.check(model, tm.images(batch=4 if size == 32 else 2, size=size))
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    raw = ["vit.embeddings.cls_token", "vit.embeddings.position_embeddings"]
    assert sorted(d.unanalysed) == raw
    share = n_params(model, raw) / n_params(model)
    assert d.coverage == pytest.approx(1 - share)
    assert any(f"{100 * share:.1f}%" in n for n in d.notes), d.notes


# --------------------------------------------------------------------------------------------
# torch.nn re-implementations
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet_checks():
    x = tm.images(batch=8)
    plain = itorch.check(tm.resnet18(), x)
    zero = itorch.check(tm.resnet18(zero_init_residual=True), x)
    return plain, zero


def test_resnet18_as_torchvision_starts_it_is_healthy(resnet_checks):
    # He (fan_out) convolutions, BN 1 and 0, the fc at PyTorch's default (one layer after a
    # normalized trunk: not a long unnormalized chain, so no torch_default warning).
    d, _ = resnet_checks
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    assert d.coverage == 1.0


def test_resnet18_zero_init_residual_is_a_recognised_zero_start(resnet_checks):
    # zero_init_residual: the last BN scale of each of the 8 blocks is 0, so each branch starts
    # as zero and the block as the identity (Goyal et al. 2017). bn2's own gradient is non-zero
    # (its normalized input and the error through the shortcut are), so it moves on the first
    # step; conv1, bn1 and conv2 of the branch get their gradient from the second step.
    _, d = resnet_checks
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    zero = info(d, "zero_start")
    assert len(zero) == 1
    f = zero[0]
    for block in ("layer1.0", "layer1.1", "layer2.0", "layer4.1"):
        assert f"{block}.bn2" in f.message
    assert "residual" in f.message
    assert "from step 2" in f.message
    assert all(b.zero for b in d.blocks if b.name.startswith("layer1.0.conv1"))


def test_vgg11_as_torchvision_starts_it_is_healthy():
    # He (fan_out) convolutions with zero biases, N(0, 0.01) classifier layers, dropout.
    d = itorch.check(tm.vgg11(), tm.images(batch=4))
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d


def test_lstm_language_model_is_healthy():
    # PyTorch's word_language_model: U(+-0.1) embedding and decoder, nn.LSTM's default start;
    # (seq, batch) token ids and the zero hidden state in. The LSTM's weights are analysed;
    # with the next tokens as target, the first loss is near ln V (tiny logits).
    model = tm.lstm_lm()
    x = tm.tokens(batch=SEQ_FIRST, seq=4)  # (seq, batch)
    target = tm.tokens(batch=SEQ_FIRST, seq=4, seed=1).reshape(-1)
    d = itorch.check(model, (x, model.init_hidden(4)), target)
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    assert by_name(d)["rnn"].kind == "LSTM"
    assert abs(d.loss - math.log(tm.VOCAB)) < 0.1
    assert d.coverage == 1.0


SEQ_FIRST = 12


def test_lora_at_b_zero_over_a_frozen_base_is_a_recognised_zero_start():
    # LoRA (Hu et al. 2021): B = 0 so that the adapted model starts as the base. B's gradient
    # (delta times A x) is non-zero, A's is zero until B moves: every trainable parameter has a
    # gradient from the second step. The frozen base is reported, not judged.
    model = tm.lora_mlp()
    d = itorch.check(model, torch.randn(32, 32, generator=torch.Generator().manual_seed(0)))
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    f = info(d, "zero_start")
    assert len(f) == 1 and "LoRA" in f[0].message
    assert "0.lora_B" in f[0].message and "2.lora_B" in f[0].message
    assert "from step 2" in f[0].message
    assert any(n.startswith("Frozen") for n in d.notes)
    assert {b.name for b in d.blocks} == {
        "0.lora_A.weight",
        "0.lora_B.weight",
        "2.lora_A.weight",
        "2.lora_B.weight",
    }


def test_transformer_encoder_stack_warns_that_its_layers_are_copies():
    # nn.TransformerEncoder deep-copies the layer it is given: its 4 layers start equal. They
    # get different gradients and part at the first step, but the start is one draw, not four:
    # a warning an expert agrees with. nn.MultiheadAttention's in_proj_weight is analysed.
    model = tm.transformer_encoder()
    d = itorch.check(model, torch.randn(4, 10, 64, generator=torch.Generator().manual_seed(0)))
    assert d.verdict == "healthy", d
    assert loud(d) == {("copied_layer", "warning")}, d
    f = next(f for f in d.findings if f.code == "copied_layer")
    for i in range(4):
        assert f"layers.{i}" in f.message
    assert by_name(d)["layers.0.self_attn"].kind == "MultiheadAttention"
    assert d.coverage == 1.0, d.unanalysed


def test_ppo_actor_with_a_small_head_on_purpose_is_healthy():
    # CleanRL: orthogonal(gain sqrt 2) tanh layers, the action head at gain 0.01 so the first
    # policy's mean is near 0. A small output is the intent, not a vanishing signal.
    model = tm.ppo_actor()
    d = itorch.check(model, torch.randn(64, 17, generator=torch.Generator().manual_seed(0)))
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    assert by_name(d)["4"].role == "output"


# --------------------------------------------------------------------------------------------
# Full size (slow: deselected by default)
# --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_gpt2_124m_as_published_is_healthy():
    # GPT2Config(): 124M parameters, wte of 50257 x 768 = 38.6M entries (more than 2^24, the
    # size at which the old sampling crashed).
    model = tm.gpt2_124m()
    d = itorch.check(model, tm.tokens(batch=2, seq=64, vocab=50257))
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    assert d.coverage == 1.0
    assert abs(d.loss - math.log(50257)) < 0.5


@pytest.mark.slow
def test_vgg11_at_torchvisions_width_is_healthy():
    # The classifier's first layer is 25088 x 4096: 102.8M entries.
    d = itorch.check(tm.vgg11(width=1.0), tm.images(batch=2))
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d


@pytest.mark.slow
def test_vit_b16_at_224_pixels_is_healthy():
    model = tm.vit(
        image_size=224,
        patch_size=16,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        num_labels=1000,
    )
    d = itorch.check(model, tm.images(batch=4, size=224))
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d


def test_mixtral_experts_are_analysed():
    # transformers' Mixtral keeps its experts as raw (experts, out, in) parameters read through
    # torch._grouped_mm: analysed as layers of their own, inside the residual branch.
    tf = tm._quiet()
    tm.seeded(0)
    config = dict(tm._DECODER, intermediate_size=64, num_local_experts=4, num_experts_per_tok=2)
    model = tf.MixtralForCausalLM(tf.MixtralConfig(**config))
    d = itorch.check(model, tm.tokens())
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    assert d.coverage == 1.0, d.unanalysed
    experts = by_name(d)["model.layers.0.mlp.experts.down_proj"]
    assert experts.family == "param" and experts.role == "residual branch"
    # apply draws each expert's (out, in) = (128, 64) matrix on its own: He's std sqrt(2 / 64).
    name = "model.layers.0.mlp.experts.gate_up_proj"
    itorch.apply(model, "he_normal", layers=[name], example_input=tm.tokens(), random_state=0)
    w = model.get_parameter(name).detach()
    for e in range(4):
        assert float(w[e].std()) == pytest.approx((2 / 64) ** 0.5, rel=0.05)


# --------------------------------------------------------------------------------------------
# Held-out architectures: residual adds behind dropout, window reverse and roll; (1 + w) norms;
# a conv stem before a position table
# --------------------------------------------------------------------------------------------


def test_bart_with_its_decoder_input_built_inside_forward_is_healthy():
    # BART's own start, N(0, 0.02). Given input_ids alone, the decoder's input is built inside
    # forward (new_zeros, then written in place). The decoder's cross-attention out_proj writes
    # a small branch (every decoder position averages the same encoder states, so its output
    # varies little: std about 0.004 against a stream of about 1) that goes through dropout into
    # the residual add: a residual branch, not a vanishing signal. Expected: healthy, no warning.
    model = tm.bart()
    d = itorch.check(model, tm.tokens())
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    layers = by_name(d)
    for name in ("model.decoder.layers.0.encoder_attn.out_proj", "model.decoder.layers.0.fc2"):
        assert layers[name].role == "residual branch", layers[name]


def test_swin_with_windowed_attention_is_healthy():
    # Swin's own start (truncated N(0, 0.02)). Its attention output projection's result goes
    # through dropout, window reverse (view, permute, view), torch.roll and a slice before the
    # residual add: still the branch of that add, small on purpose. Expected: healthy.
    d = itorch.check(tm.swin(), tm.images())
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    o_proj = [r for r in d.layers if r.name.endswith("attention.output.dense")] or [
        r for r in d.layers if r.name.endswith("attention.o_proj")
    ]
    assert o_proj and all(r.role == "residual branch" for r in o_proj), o_proj


def test_gemma_norms_stored_at_zero_and_applied_as_one_plus_w_are_healthy():
    # Gemma's RMSNorm multiplies by (1 + w) with w = 0 at the start: its output is the
    # normalized signal at full scale (std about 1), not a zero layer nor a never-initialized
    # one. Expected: healthy, no finding above info.
    d = itorch.check(tm.gemma(), tm.tokens())
    assert d.verdict == "healthy", d
    assert not [f for f in d.findings if f.severity == "error"], d
    assert loud(d) == set(), d
    norm = by_name(d)["model.layers.0.input_layernorm"]
    assert norm.family == "norm" and 0.5 < norm.act_std < 2


def test_mamba_layers_sharing_a_formula_start_are_not_copies():
    # Every Mamba mixer starts A_log at log(1..N) in each row: the layers' A_log tensors are
    # equal bit for bit by design (a formula, 8 distinct values in a 128 x 8 tensor), not
    # deep copies of a random draw; everything drawn at random differs. Expected: healthy, no
    # copied_layer finding, no warning.
    model = tm.mamba()
    a0, a1 = (layer.mixer.A_log for layer in model.backbone.layers)
    assert torch.equal(a0, a1)  # the premise: equal values in distinct tensors
    d = itorch.check(model, tm.tokens())
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d


def test_deep_copied_mamba_blocks_are_still_copies():
    # A deep copy of layer 0 in place of layer 1: now its random draws (in_proj, x_proj,
    # dt_proj, conv1d, out_proj) are equal too. The formula tensors must not hide the copy.
    import copy

    model = tm.mamba()
    model.backbone.layers[1] = copy.deepcopy(model.backbone.layers[0])
    d = itorch.check(model, tm.tokens())
    (f,) = [f for f in d.findings if f.code == "copied_layer"]
    assert "backbone.layers.0" in f.message and "backbone.layers.1" in f.message, f.message


def test_wav2vec2_weight_normed_convolution_counts_as_analysed():
    # Raw audio through transformers' own start. The positional convolution is under
    # weight_norm: its parameters are parametrizations.weight.original0/1, and the layer is
    # analysed like any convolution, so they count as analysed. Only masked_spec_embed (used
    # when time steps are masked, not in a plain forward pass) is left. Expected: healthy, no
    # warning, that one tensor unanalysed.
    model = tm.wav2vec2()
    audio = torch.randn(2, 4000, generator=torch.Generator().manual_seed(0))
    d = itorch.check(model, audio)
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d
    assert d.unanalysed == ["masked_spec_embed"], d.unanalysed


def test_whisper_conv_stem_is_judged_where_a_norm_rescales_it():
    # Whisper's own start (N(0, 0.02) convolutions, d_model 64): the stem (two convolutions with
    # GELU) falls to about 1/45 of the input's std, then a sinusoidal position table (std 0.4)
    # is added and layer 0's LayerNorm rescales the sum. What the following layers receive is
    # the stem's share of that sum (about 1/30), and the norm's gain carries the stem's gradient:
    # not vanishing. Expected: healthy, no warning.
    model = tm.whisper()
    d = itorch.check(model.model.encoder, tm.mels())
    assert d.verdict == "healthy", d
    assert loud(d) == set(), d


def test_whisper_stem_drowned_by_the_position_table_is_a_warning_with_its_share():
    # At init_std 0.005 the stem's output is 16 times smaller (two layers at a quarter each):
    # about 0.2% of what layer 0's LayerNorm normalizes. The norm still rescales and passes its
    # gradient, so not a vanishing verdict; the layers after it receive mostly the position
    # table: a warning that says the measured share.
    transformers = pytest.importorskip("transformers")
    cfg = tm.whisper().config
    cfg.init_std = 0.005
    tm.seeded(0)
    model = transformers.WhisperForConditionalGeneration(cfg)
    d = itorch.check(model.model.encoder, tm.mels())
    assert d.verdict == "healthy", d
    f = [f for f in d.findings if f.code == "drowned"]
    assert f and f[0].severity == "warning" and f[0].layer == "conv2", d
    norm_in = float(model.model.encoder.embed_positions.weight.std())
    share = float(f[0].message.split(" is ")[1].split(" of ")[0])
    assert share < 0.01 and norm_in > 0.3
    # Its suggestion, carried out by apply, starts the stem at a scale the table does not drown.
    itorch.apply(model.model.encoder, example_input=tm.mels(), random_state=0, **f[0].fix)
    d = itorch.check(model.model.encoder, tm.mels())
    assert d.verdict == "healthy" and loud(d) == set(), d
