"""Real architectures for the PyTorch check's tests, each at its own library's default start.

Hugging Face transformers models are built from small configs (offline, no weights: each model's
own ``_init_weights`` draws the start). The torchvision-style networks, the LSTM language model,
the LoRA layer and the PPO actor are written here with ``torch.nn`` as their reference code
initializes them (torchvision's ``resnet.py`` and ``vgg.py``, PyTorch's ``word_language_model``
example, PEFT's ``LoraLayer.reset_lora_parameters``, CleanRL's ``ppo_continuous_action.py``).
Every builder seeds torch's global generator first, because that is where these libraries draw.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download: every model is built from a config

import torch
from torch import nn

VOCAB = 512
SQRT2 = math.sqrt(2)
SEQ = 16


def seeded(seed: int = 0) -> None:
    torch.manual_seed(seed)


def tokens(batch: int = 4, seq: int = SEQ, vocab: int = VOCAB, low: int = 3, seed: int = 0):
    """Token ids in [low, vocab): the special ids below ``low`` (padding, bos, eos) left out."""
    return torch.randint(low, vocab, (batch, seq), generator=torch.Generator().manual_seed(seed))


def images(batch: int = 4, size: int = 32, seed: int = 0):
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------
# Hugging Face transformers, small configs
# --------------------------------------------------------------------------------------------


def _quiet():
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers


def gpt2(n_layer: int = 2, n_embd: int = 64, seed: int = 0, **config):
    tf = _quiet()
    seeded(seed)
    cfg = tf.GPT2Config(
        vocab_size=VOCAB,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=4,
        n_positions=64,
        bos_token_id=1,
        eos_token_id=2,
        **config,
    )
    return tf.GPT2LMHeadModel(cfg)


def gpt2_124m(seed: int = 0):
    """GPT-2 small as published (124M parameters), built from its config: no weights loaded."""
    tf = _quiet()
    seeded(seed)
    return tf.GPT2LMHeadModel(tf.GPT2Config())


_ENCODER = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=256,
    max_position_embeddings=66,
)


def bert(seed: int = 0):
    tf = _quiet()
    seeded(seed)
    return tf.BertForMaskedLM(
        tf.BertConfig(vocab_size=VOCAB, pad_token_id=0, bos_token_id=1, eos_token_id=2, **_ENCODER)
    )


def roberta(seed: int = 0):
    tf = _quiet()
    seeded(seed)
    return tf.RobertaForMaskedLM(
        tf.RobertaConfig(
            vocab_size=VOCAB, pad_token_id=1, bos_token_id=0, eos_token_id=2, **_ENCODER
        )
    )


def albert(seed: int = 0):
    tf = _quiet()
    seeded(seed)
    return tf.AlbertForMaskedLM(
        tf.AlbertConfig(
            vocab_size=VOCAB,
            embedding_size=32,
            pad_token_id=0,
            bos_token_id=2,
            eos_token_id=3,
            **_ENCODER,
        )
    )


def electra(seed: int = 0):
    tf = _quiet()
    seeded(seed)
    return tf.ElectraForMaskedLM(
        tf.ElectraConfig(vocab_size=VOCAB, embedding_size=32, pad_token_id=0, **_ENCODER)
    )


def distilbert(seed: int = 0):
    tf = _quiet()
    seeded(seed)
    return tf.DistilBertForMaskedLM(
        tf.DistilBertConfig(
            vocab_size=VOCAB,
            dim=64,
            n_layers=2,
            n_heads=4,
            hidden_dim=256,
            max_position_embeddings=64,
            pad_token_id=0,
        )
    )


_DECODER = dict(
    vocab_size=VOCAB,
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=128,
    max_position_embeddings=64,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)


def llama(seed: int = 0):
    tf = _quiet()
    seeded(seed)
    return tf.LlamaForCausalLM(tf.LlamaConfig(**_DECODER))


def mistral(seed: int = 0):
    tf = _quiet()
    seeded(seed)
    return tf.MistralForCausalLM(tf.MistralConfig(**_DECODER))


def qwen2(seed: int = 0):
    tf = _quiet()
    seeded(seed)
    return tf.Qwen2ForCausalLM(tf.Qwen2Config(**_DECODER))


def t5(seed: int = 0):
    tf = _quiet()
    seeded(seed)
    return tf.T5ForConditionalGeneration(
        tf.T5Config(
            vocab_size=VOCAB,
            d_model=64,
            d_kv=16,
            d_ff=128,
            num_layers=2,
            num_heads=4,
            decoder_start_token_id=0,
            pad_token_id=0,
            eos_token_id=1,
        )
    )


def bart(seed: int = 0):
    """BART as transformers starts it: N(0, init_std = 0.02) for every Linear and Embedding,
    LayerNorm 1 and 0, post-LN blocks whose out_proj and fc2 outputs go through dropout into
    the residual add. Given input_ids alone, the decoder's input is built inside forward
    (shift_tokens_right: new_zeros, then written in place)."""
    tf = _quiet()
    seeded(seed)
    cfg = tf.BartConfig(
        vocab_size=VOCAB,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=64,
    )
    return tf.BartForConditionalGeneration(cfg)


def swin(seed: int = 0):
    """Swin as transformers starts it: truncated N(0, 0.02) Linear layers; between each
    attention's output projection and its residual add come dropout, window reverse (view,
    permute, contiguous, view), the cyclic shift's torch.roll and a slice."""
    tf = _quiet()
    seeded(seed)
    cfg = tf.SwinConfig(
        image_size=32,
        patch_size=4,
        embed_dim=32,
        depths=[2, 2],
        num_heads=[2, 4],
        window_size=4,
        num_labels=10,
    )
    return tf.SwinForImageClassification(cfg)


def gemma(seed: int = 0):
    """Gemma as transformers starts it: its RMSNorm stores w and scales by (1 + w), w = 0."""
    tf = _quiet()
    seeded(seed)
    cfg = tf.GemmaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=64,
    )
    return tf.GemmaForCausalLM(cfg)


def mamba(seed: int = 0):
    """Mamba as transformers starts it: every mixer's A_log = log(1..N) in each row and D = 1
    (the S4D-real start, the same formula in every layer), dt_proj drawn for a time step in
    [0.001, 0.1], the other Linear layers N(0, 0.1)."""
    tf = _quiet()
    seeded(seed)
    cfg = tf.MambaConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, state_size=8)
    return tf.MambaForCausalLM(cfg)


def wav2vec2(seed: int = 0):
    """wav2vec 2.0 as transformers starts it, small: a convolutional feature encoder on raw
    audio, and a positional convolution under weight_norm (a parametrized layer: its weight is
    computed from weight_g and weight_v)."""
    tf = _quiet()
    seeded(seed)
    cfg = tf.Wav2Vec2Config(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        conv_dim=(32, 32),
        conv_stride=(5, 2),
        conv_kernel=(10, 3),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
    )
    return tf.Wav2Vec2Model(cfg)


def whisper(seed: int = 0, frames: int = 100):
    """Whisper as transformers starts it (N(0, 0.02) convolutions and Linear layers, sinusoidal
    position table), small: 80 mel bins, ``frames`` input frames (the stem halves them)."""
    tf = _quiet()
    seeded(seed)
    cfg = tf.WhisperConfig(
        vocab_size=VOCAB,
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        num_mel_bins=80,
        max_source_positions=frames // 2,
        max_target_positions=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )
    return tf.WhisperForConditionalGeneration(cfg)


def mels(batch: int = 4, frames: int = 100, seed: int = 0):
    """Log-mel features as Whisper's feature extractor scales them: about [-1, 1]."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, 80, frames, generator=g) * 2 - 1).clamp(-1, 1)


def vit(seed: int = 0, image_size: int = 32, patch_size: int = 8, **config):
    tf = _quiet()
    seeded(seed)
    cfg = dict(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=256,
        num_labels=10,
    )
    cfg.update(config)
    return tf.ViTForImageClassification(tf.ViTConfig(**cfg))


def vit_tiny(seed: int = 0):
    """ViT-Tiny/16 (DeiT-Tiny's shape: width 192, 12 layers, 3 heads) at 224 pixels."""
    return vit(
        seed,
        image_size=224,
        patch_size=16,
        hidden_size=192,
        num_hidden_layers=12,
        num_attention_heads=3,
        intermediate_size=768,
        num_labels=1000,
    )


# --------------------------------------------------------------------------------------------
# torchvision-style ResNet-18 and VGG-11 (torchvision is not installed here)
# --------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """torchvision's ``BasicBlock``: the shortcut added in place, one ReLU module used twice."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    """torchvision's ``resnet18`` (``width`` scales the channels; 64 is torchvision's)."""

    def __init__(self, num_classes: int = 10, zero_init_residual: bool = False, width: int = 64):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(width, 2)
        self.layer2 = self._make_layer(2 * width, 2, stride=2)
        self.layer3 = self._make_layer(4 * width, 2, stride=2)
        self.layer4 = self._make_layer(8 * width, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width, num_classes)
        # torchvision: He (fan_out) for every conv, BN scale 1 and shift 0, the fc left at
        # PyTorch's default; zero_init_residual zeroes the last BN scale of each block.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(zero_init_residual: bool = False, seed: int = 0, width: int = 64):
    seeded(seed)
    return ResNet18(zero_init_residual=zero_init_residual, width=width)


class VGG(nn.Module):
    """torchvision's ``vgg11`` (configuration "A", no batch norm); ``width`` scales the
    channels and the classifier (1 is torchvision's: 512 x 7 x 7 -> 4096 -> 4096)."""

    def __init__(self, num_classes: int = 10, width: float = 1.0):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                c = int(v * width)
                layers += [nn.Conv2d(c_in, c, 3, padding=1), nn.ReLU(inplace=True)]
                c_in = c
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        hidden = int(4096 * width)
        self.classifier = nn.Sequential(
            nn.Linear(c_in * 7 * 7, hidden),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.Linear(hidden, num_classes),
        )
        # torchvision's VGG._initialize_weights
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def vgg11(seed: int = 0, width: float = 0.25):
    seeded(seed)
    return VGG(width=width)


# --------------------------------------------------------------------------------------------
# PyTorch's word_language_model example, LoRA, nn.TransformerEncoder, a PPO actor
# --------------------------------------------------------------------------------------------


class RNNModel(nn.Module):
    """PyTorch's ``examples/word_language_model`` LSTM model: (seq, batch) token ids and the
    hidden state in, log-probabilities and the new hidden state out."""

    def __init__(self, ntoken=VOCAB, ninp=64, nhid=64, nlayers=2, dropout=0.2, tie=False):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie:
            self.decoder.weight = self.encoder.weight
        self.nlayers, self.nhid = nlayers, nhid
        initrange = 0.1  # the example's init_weights
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        shape = (self.nlayers, bsz, self.nhid)
        return (weight.new_zeros(shape), weight.new_zeros(shape))

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)
        return torch.nn.functional.log_softmax(decoded, dim=1), hidden


def lstm_lm(seed: int = 0, **kwargs):
    seeded(seed)
    return RNNModel(**kwargs)


class LoRALinear(nn.Module):
    """PEFT's LoRA on a Linear: base(x) + B(A(dropout(x))) * alpha / r, the base frozen, A drawn
    by kaiming_uniform_(a=sqrt(5)) and B zero (``LoraLayer.reset_lora_parameters``)."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: int = 16):
        super().__init__()
        self.base_layer = base.requires_grad_(False)
        self.lora_dropout = nn.Identity()
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / r

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling


def lora_mlp(seed: int = 0):
    """A 'pretrained' ReLU MLP (He start standing in for trained weights), frozen, with LoRA on
    its two hidden layers: only the adapters train."""
    seeded(seed)
    base = nn.Sequential(
        nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    for m in base:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    base.requires_grad_(False)
    base[0] = LoRALinear(base[0])
    base[2] = LoRALinear(base[2])
    return base


def transformer_encoder(seed: int = 0, layers: int = 4):
    """``nn.TransformerEncoder`` of ``nn.TransformerEncoderLayer`` (it deep-copies the layer)."""
    seeded(seed)
    layer = nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, batch_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def ppo_actor(seed: int = 0, obs: int = 17, act: int = 6):
    """CleanRL's continuous PPO actor: orthogonal starts, gain sqrt(2) for the tanh hidden layers
    and 0.01 for the action head, so that the first policy is near zero mean."""
    seeded(seed)

    def layer_init(layer, std=SQRT2, bias_const=0.0):
        nn.init.orthogonal_(layer.weight, std)
        nn.init.constant_(layer.bias, bias_const)
        return layer

    return nn.Sequential(
        layer_init(nn.Linear(obs, 64)),
        nn.Tanh(),
        layer_init(nn.Linear(64, 64)),
        nn.Tanh(),
        layer_init(nn.Linear(64, act), std=0.01),
    )


def mlp(sizes, act=nn.ReLU, seed: int = 0):
    """A plain MLP at PyTorch's default start."""
    seeded(seed)
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)
