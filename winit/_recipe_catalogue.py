"""The built-in recipes: each framework's defaults (for porting) and the per-role inits of training codebases.

Every formula names its source; tests/test_recipes.py checks them against those sources' numbers.
Names in formulas: see :data:`winit._recipes.CONTEXT_NAMES`; ``stddev`` inside ``lower``/``upper``
is the value just computed (a cut given in absolute units becomes ``±a / stddev`` in σ units).
"""

from __future__ import annotations

from typing import Final

from winit._recipes import Recipe, RoleKey, RoleLaw
from winit._roles import KEEP, MHA, MHA_KV, Role

_ZEROS: Final = RoleLaw("zeros")
_ONES: Final = RoleLaw("ones")
_KEEP: Final = RoleLaw(KEEP)
#: What every recipe leaves alone unless it says otherwise: norms at identity, gates and own-law parameters kept.
_NEUTRAL: Final[dict[RoleKey, RoleLaw]] = {
    Role.NORM_SCALE: _ONES,
    Role.NORM_OFFSET: _ZEROS,
    Role.BIAS: _ZEROS,
    Role.LAYER_SCALE: _KEEP,
    Role.OTHER: _KEEP,
}
_MATRICES: Final = (
    Role.ATTENTION_QKV, Role.ATTENTION_OUT, Role.MLP_IN, Role.MLP_OUT, Role.HEAD, Role.DENSE, Role.CONV,
)  # fmt: skip


def _every(law: RoleLaw, roles: tuple[Role, ...] = _MATRICES) -> dict[RoleKey, RoleLaw]:
    """``law`` for each of ``roles``."""
    return dict.fromkeys(roles, law)


def _normal(std: str | float, note: str = "", lr: str | float = 1.0) -> RoleLaw:
    """N(0, std²)."""
    return RoleLaw("random_normal", {"stddev": std}, note, lr)


def _truncated(std: str | float, cut: str | float = 2.0, note: str = "") -> RoleLaw:
    """N(0, std²) cut at ±cut·std (std is the untruncated σ, as torch's trunc_normal_ and Haiku take it)."""
    lower: str | float = -cut if isinstance(cut, float) else f"-({cut})"
    return RoleLaw("truncated_normal", {"stddev": std, "lower": lower, "upper": cut}, note)


def _absolute_cut(std: str, a: float = 2.0, note: str = "") -> RoleLaw:
    """torch ``trunc_normal_(std=std)`` with its default absolute cut ±a: ±a/std in σ units."""
    return RoleLaw(
        "truncated_normal", {"stddev": std, "lower": f"-{a} / stddev", "upper": f"{a} / stddev"}, note
    )


TORCH: Final = Recipe(
    "torch",
    "PyTorch's own reset_parameters, per layer type (for porting a model to or from PyTorch)",
    {
        **_every(RoleLaw("he_uniform", {"negative_slope": "sqrt(5)"},
                         "Linear/Conv: kaiming_uniform_(a=√5), i.e. U(±1/√fan_in)")),
        Role.BIAS: RoleLaw("random_uniform", {"minval": "-1 / sqrt(fan_in)", "maxval": "1 / sqrt(fan_in)"},
                           "U(±1/√fan_in), fan_in of the layer's weight"),
        Role.EMBEDDING: _normal(1.0, "nn.Embedding: N(0, 1)"),
        Role.POSITIONAL: _normal(1.0, "nn.Embedding: N(0, 1)"),
        Role.RECURRENT: RoleLaw("random_uniform", {"minval": "-1 / sqrt(hidden)", "maxval": "1 / sqrt(hidden)"},
                                "RNN/LSTM/GRU: U(±1/√hidden) for every weight and bias"),
        Role.RECURRENT_INPUT: RoleLaw("random_uniform",
                                      {"minval": "-1 / sqrt(hidden)", "maxval": "1 / sqrt(hidden)"}),
        (Role.BIAS, "recurrent"): RoleLaw("random_uniform",
                                          {"minval": "-1 / sqrt(hidden)", "maxval": "1 / sqrt(hidden)"}),
        # nn.MultiheadAttention._reset_parameters: xavier_uniform_ over the fused (3E, E) in_proj_weight, so
        # each (E, E) block is U(±√(6/(fan_in + 3·fan_out))); q/k/v_proj_weight (kdim ≠ E) each on its own
        (Role.ATTENTION_QKV, MHA): RoleLaw("random_uniform",
                                           {"minval": "-sqrt(6 / (fan_in + blocks * fan_out))",
                                            "maxval": "sqrt(6 / (fan_in + blocks * fan_out))"},
                                           "MHA: xavier_uniform_ over the fused in_proj (or each of q/k/v)"),
        (Role.BIAS, MHA): RoleLaw("zeros", note="MHA: in_proj_bias and out_proj.bias constant_(0)"),
        (Role.BIAS, MHA_KV): _normal("sqrt(2 / (fan_in + fan_out))", "MHA bias_k, bias_v: xavier_normal_"),
        Role.NORM_SCALE: _ONES,
        Role.NORM_OFFSET: _ZEROS,
        Role.LAYER_SCALE: _KEEP,
        Role.OTHER: _KEEP,
    },
    sources=("torch/nn/modules/linear.py, conv.py, sparse.py, rnn.py: reset_parameters; "
             "activation.py: MultiheadAttention._reset_parameters",),
)  # fmt: skip

KERAS: Final = Recipe(
    "keras",
    "Keras 3 layer defaults (Dense/Conv/EinsumDense/MultiHeadAttention/Embedding/LSTM)",
    {
        **_NEUTRAL,
        **_every(RoleLaw("glorot_uniform", note="kernel_initializer='glorot_uniform'")),
        Role.EMBEDDING: RoleLaw("random_uniform", {"minval": -0.05, "maxval": 0.05}, "Embedding: uniform ±0.05"),
        Role.POSITIONAL: RoleLaw("random_uniform", {"minval": -0.05, "maxval": 0.05}),
        Role.RECURRENT_INPUT: RoleLaw("glorot_uniform"),
        Role.RECURRENT: RoleLaw("orthogonal", note="recurrent_initializer='orthogonal'"),
        (Role.BIAS, "f"): RoleLaw("ones", note="LSTM unit_forget_bias=True: the forget-gate bias block is 1"),
    },
    sources=("keras/src/layers/core/dense.py, embedding.py, rnn/lstm.py (unit_forget_bias)",),
)  # fmt: skip

FLAX: Final = Recipe(
    "flax",
    "Flax (linen and nnx) layer defaults",
    {
        **_NEUTRAL,
        **_every(RoleLaw("variance_scaling", {"scale": 1.0},
                         "Dense/Conv/attention: lecun_normal, i.e. variance_scaling(1, fan_in, truncated_normal)")),
        Role.EMBEDDING: _normal("1 / sqrt(d)", "Embed: variance_scaling(1, fan_in, normal, out_axis=0)"),
        Role.POSITIONAL: _normal("1 / sqrt(d)"),
        Role.RECURRENT_INPUT: RoleLaw("variance_scaling", {"scale": 1.0}),
        Role.RECURRENT: RoleLaw("orthogonal", note="LSTMCell recurrent_kernel_init=orthogonal()"),
    },
    sources=("flax/linen/linear.py default_kernel_init, default_embed_init; flax/nnx/nn/linear.py",),
)  # fmt: skip

HAIKU: Final = Recipe(
    "haiku",
    "Haiku module defaults",
    {
        **_NEUTRAL,
        **_every(_truncated("1 / sqrt(fan_in)", 2.0, "Linear/ConvND: TruncatedNormal(1/√fan_in)")),
        Role.EMBEDDING: _truncated(1.0, 2.0, "Embed: TruncatedNormal() (stddev 1)"),
        Role.POSITIONAL: _truncated(1.0, 2.0),
        Role.RECURRENT_INPUT: _truncated("1 / sqrt(fan_in)"),
        Role.RECURRENT: _truncated("1 / sqrt(fan_in)"),
    },
    sources=("haiku/_src/basic.py Linear, conv.py ConvND, embed.py Embed",),
)  # fmt: skip

GPT2: Final = Recipe(
    "gpt2",
    "GPT-2 / Megatron scaled init: N(0, σ₀) everywhere, residual outputs σ₀/√(2L)",
    {
        **_NEUTRAL,
        **_every(_normal("sigma0")),
        Role.EMBEDDING: _normal("sigma0"),
        Role.POSITIONAL: _normal("sigma0", "HF and Megatron; OpenAI's GPT-2 used 0.01 for wpe"),
        Role.ATTENTION_OUT: _normal("sigma0 / sqrt(2 * L)", "two residual writes per block"),
        Role.MLP_OUT: _normal("sigma0 / sqrt(2 * L)"),
    },
    constants={"sigma0": 0.02},
    sources=(
        "transformers models/gpt2/modeling_gpt2.py GPT2PreTrainedModel._init_weights",
        "Megatron-LM init_method_normal / scaled_init_method_normal; nanoGPT model.py",
    ),
)  # fmt: skip

BERT: Final = Recipe(
    "bert",
    "BERT / HF transformers' default _init_weights: N(0, σ₀) for every Linear and Embedding, no depth scaling",
    {
        **_NEUTRAL,
        **_every(_normal("sigma0", "initializer_range")),
        Role.EMBEDDING: _normal("sigma0", "padding row 0"),
        Role.POSITIONAL: _normal("sigma0"),
    },
    constants={"sigma0": 0.02},
    sources=(
        "transformers modeling_utils.py PreTrainedModel._init_weights; models/bert/modeling_bert.py",
        "google-research/bert modeling.py create_initializer (truncated normal 0.02 in the TF original)",
    ),
)  # fmt: skip

_DEPTH_STD: Final = "sigma0 / sqrt(2 * (l + 1)) if depth_init else sigma0 / sqrt(2 * L)"
TORCHTITAN: Final = Recipe(
    "torchtitan",
    "torchtitan Llama 3 init_weights (depth_init=True: residual outputs and w3 by block index)",
    {
        **_NEUTRAL,
        Role.ATTENTION_QKV: _absolute_cut("sigma0", note="trunc_normal_(std=0.02), absolute cut ±2 (≈ none)"),
        (Role.MLP_IN, "gate"): _absolute_cut("sigma0", note="w1"),
        (Role.MLP_IN, "up"): _absolute_cut(_DEPTH_STD, note="w3 takes the depth-scaled std"),
        Role.MLP_IN: _absolute_cut("sigma0", note="an ungated MLP's one input projection: w1's law"),
        Role.ATTENTION_OUT: _absolute_cut(_DEPTH_STD, note="wo"),
        Role.MLP_OUT: _absolute_cut(_DEPTH_STD, note="w2"),
        Role.DENSE: _absolute_cut("sigma0"),
        Role.EMBEDDING: _normal(1.0, "tok_embeddings: normal_(), N(0, 1)"),
        Role.HEAD: _truncated("d ** -0.5", 3.0, "output: trunc_normal_(std=d^-½, a=-3σ, b=3σ)"),
    },
    constants={"sigma0": 0.02, "depth_init": True},
    sources=("torchtitan/models/llama3/model/model.py Transformer.init_weights, FeedForward.init_weights",),
)  # fmt: skip

OLMO_MITCHELL: Final = Recipe(
    "olmo_mitchell",
    "OLMo 'mitchell': inputs 1/√d_in, outputs 1/√(2·width·(ℓ+1)), all truncated at ±3σ",
    {
        **_NEUTRAL,
        **_every(_truncated("1 / sqrt(fan_in)", 3.0)),
        Role.ATTENTION_OUT: _truncated("1 / sqrt(2 * d * (l + 1))", 3.0),
        Role.MLP_OUT: _truncated("1 / sqrt(2 * d_ff * (l + 1))", 3.0),
        Role.EMBEDDING: _truncated("1 / sqrt(d)", 3.0, "emb_init_std unset: 1/√d"),
        Role.HEAD: _truncated("1 / sqrt(d)", 3.0),
    },
    sources=("allenai/OLMo olmo/model.py OLMoBlock.reset_parameters, olmo/initialization.py init_normal",),
)  # fmt: skip

OLMO_FULL_MEGATRON: Final = Recipe(
    "olmo_full_megatron",
    "OLMo / metaseq 'full megatron' (Llama 2): σ₀ in, σ₀/√(2L) out, head d^-½, truncated at ±3σ",
    {
        **_NEUTRAL,
        **_every(_truncated("sigma0", 3.0)),
        Role.ATTENTION_OUT: _truncated("sigma0 / sqrt(2 * L)", 3.0),
        Role.MLP_OUT: _truncated("sigma0 / sqrt(2 * L)", 3.0),
        Role.EMBEDDING: _truncated("sigma0", 3.0),
        Role.HEAD: _truncated("d ** -0.5", 3.0),
    },
    constants={"sigma0": 0.02},
    sources=("allenai/OLMo olmo/model.py (InitFnType.full_megatron); ModernBERT bert_layers/initialization.py",),
)  # fmt: skip

NEOX: Final = Recipe(
    "neox",
    "GPT-NeoX / Pythia: small_init √(2/(5d)) for inputs, wang_init 2/(L·√d) for outputs",
    {
        **_NEUTRAL,
        **_every(_normal("sqrt(2 / (5 * d))", "small_init (Nguyen & Salazar)")),
        Role.EMBEDDING: _normal("sqrt(2 / (5 * d))"),
        Role.ATTENTION_OUT: _normal("2 / (L * sqrt(d))", "wang_init"),
        Role.MLP_OUT: _normal("2 / (L * sqrt(d))", "wang_init"),
    },
    sources=("EleutherAI/gpt-neox megatron/model/init_functions.py small_init_init_method, wang_init_method",),
)  # fmt: skip

T5: Final = Recipe(
    "t5",
    "T5 / Mesh-TF: q (d·d_kv)^-½, k/v d^-½, o (h·d_kv)^-½, wi d^-½, wo d_ff^-½, embedding 1",
    {
        **_NEUTRAL,
        **_every(_normal("factor * d ** -0.5")),
        (Role.ATTENTION_QKV, "q"): _normal("factor * (d * d_kv) ** -0.5", "the 1/√d_kv softmax scale folded into q"),
        Role.ATTENTION_QKV: _normal("factor * d ** -0.5"),
        Role.ATTENTION_OUT: _normal("factor * (h * d_kv) ** -0.5"),
        Role.MLP_IN: _normal("factor * d ** -0.5"),
        Role.MLP_OUT: _normal("factor * d_ff ** -0.5"),
        Role.EMBEDDING: _normal("factor * 1.0"),
        Role.POSITIONAL: _normal("factor * d ** -0.5", "relative_attention_bias"),
        Role.HEAD: _normal("factor * 1.0", "lm_head when not tied"),
        Role.NORM_SCALE: RoleLaw("constant", {"value": "factor * 1.0"}),
    },
    constants={"factor": 1.0},
    sources=("transformers models/t5/modeling_t5.py T5PreTrainedModel._init_weights (Mesh-TF attention.py)",),
)  # fmt: skip

#: T-Fixup's scale on v, out and MLP weights: (9L)^-¼ in a decoder (L its layers), 0.67·L^-¼ in an encoder.
_TFIXUP_SCALE: Final = "(9 * L) ** -0.25 if decoder else 0.67 * L ** -0.25"
TFIXUP: Final = Recipe(
    "tfixup",
    "T-Fixup (no LayerNorm, no warm-up): Xavier uniform, embeddings N(0, d^-1); v, out and MLP scaled by "
    "(9L)^-¼ (decoder, with its embeddings) or 0.67·L^-¼ (encoder: decoder=False)",
    {
        **_NEUTRAL,
        **_every(RoleLaw("glorot_uniform")),
        (Role.ATTENTION_QKV, "q"): RoleLaw("glorot_uniform", note="step 1: Xavier, unscaled"),
        (Role.ATTENTION_QKV, "k"): RoleLaw("glorot_uniform", note="step 1: Xavier, unscaled"),
        (Role.ATTENTION_QKV, "v"): RoleLaw("glorot_uniform", {"gain": _TFIXUP_SCALE}, "steps 2-3: v scaled"),
        Role.ATTENTION_OUT: RoleLaw("glorot_uniform", {"gain": _TFIXUP_SCALE}, "steps 2-3: w (out) scaled"),
        Role.MLP_IN: RoleLaw("glorot_uniform", {"gain": _TFIXUP_SCALE}, "steps 2-3: MLP weights scaled"),
        Role.MLP_OUT: RoleLaw("glorot_uniform", {"gain": _TFIXUP_SCALE}, "steps 2-3: MLP weights scaled"),
        Role.EMBEDDING: _normal("d ** -0.5 * ((9 * L) ** -0.25 if decoder else 1)",
                                "step 1: N(0, d^-1) (std d^-½); step 2: × (9L)^-¼ in a decoder"),
        Role.POSITIONAL: _normal("d ** -0.5 * ((9 * L) ** -0.25 if decoder else 1)", "as the token embedding"),
    },
    constants={"decoder": True},
    sources=(
        "Huang, Perez, Ba & Volkovs 2020, Improving Transformer Optimization Through Better Initialization "
        "(ICML; T-Fixup) Algorithm 1",
    ),
)  # fmt: skip

DEEPNET: Final = Recipe(
    "deepnet",
    "DeepNet / DeepNorm (encoder-only or decoder-only): Xavier normal, gain β = (8L)^-¼ on v, out and MLP",
    {
        **_NEUTRAL,
        **_every(RoleLaw("glorot_normal")),
        (Role.ATTENTION_QKV, "q"): RoleLaw("glorot_normal", {"gain": 1.0}),
        (Role.ATTENTION_QKV, "k"): RoleLaw("glorot_normal", {"gain": 1.0}),
        (Role.ATTENTION_QKV, "v"): RoleLaw("glorot_normal", {"gain": "(8 * L) ** -0.25"}),
        Role.ATTENTION_OUT: RoleLaw("glorot_normal", {"gain": "(8 * L) ** -0.25"}),
        Role.MLP_IN: RoleLaw("glorot_normal", {"gain": "(8 * L) ** -0.25"}),
        Role.MLP_OUT: RoleLaw("glorot_normal", {"gain": "(8 * L) ** -0.25"}),
    },
    sources=("Wang et al. 2022, DeepNet (arXiv 2203.00555) Fig. 2; torchscale architecture/encoder.py",),
)  # fmt: skip

REZERO: Final = Recipe(
    "rezero",
    "ReZero / SkipInit: residual gates α = 0 (x + α·F(x)); everything else as the default rules say",
    {Role.LAYER_SCALE: _ZEROS},
    sources=("Bachlechner et al. 2020 (arXiv 2003.04887); De & Smith 2020 SkipInit",),
)

FIXUP: Final = Recipe(
    "fixup",
    "Fixup: He × L^(-1/(2m-2)) inside residual branches, the branch's last layer and the classifier 0",
    {
        **_NEUTRAL,
        # the stem and shortcut convs are outside the branches: He unscaled (hongyi-zhang/Fixup's downsample)
        Role.CONV: RoleLaw("he_normal"),
        (Role.CONV, "branch"): RoleLaw("he_normal", {"gain": "L ** (-1 / (2 * m - 2))"}),
        (Role.CONV, "branch_out"): _ZEROS,
        Role.DENSE: RoleLaw("he_normal", {"gain": "L ** (-1 / (2 * m - 2))"}),
        Role.MLP_IN: RoleLaw("he_normal", {"gain": "L ** (-1 / (2 * m - 2))"}),
        Role.MLP_OUT: _ZEROS,
        Role.ATTENTION_OUT: _ZEROS,
        Role.HEAD: _ZEROS,
    },
    constants={"m": 2},
    sources=("Zhang et al. 2019, Fixup (arXiv 1901.09321) §3",),
)  # fmt: skip

ZERO: Final = Recipe(
    "zero",
    "ZerO: hidden weights ZerO (identity / Hadamard), residual branches' last layers and the classifier 0",
    {
        **_NEUTRAL,
        **_every(RoleLaw("zer_o", note="Algorithm 1: I* if out ≤ in, else 2^(−(m−1)/2)·H_m[:out, :in]")),
        Role.ATTENTION_OUT: RoleLaw("zeros", note="last layer of the residual branch"),
        Role.MLP_OUT: RoleLaw("zeros", note="last layer of the residual branch"),
        (Role.CONV, "branch_out"): RoleLaw("zeros", note="last conv of a residual block"),
        Role.HEAD: RoleLaw("zeros", note="classifier 0, as the reference ResNet code"),
        Role.EMBEDDING: RoleLaw(KEEP, note="the paper does not set embeddings"),
        Role.POSITIONAL: _KEEP,
    },
    sources=(
        "Zhao et al. 2022, ZerO Initialization (TMLR; arXiv 2110.12661) Algorithm 1, §4 residual networks",
        "jiaweizzhao/ZerO-initialization imagenet/augskip_resnet.py (last convs and fc 0, norms 1, biases 0)",
    ),
)  # fmt: skip

#: μP learning-rate multipliers in the form without output multipliers (Tensor Programs V, Table 3), so
#: a plain model needs no forward change. Adam (default): hidden ÷ width_mult (mup/optim.py MuAdam divides
#: matrix-like groups' lr by width_mult), the rest 1. SGD (``sgd=True``): hidden 1 (MuSGD divides by
#: fanin_mult/fanout_mult, 1 when both sides scale), vector-like ones × width_mult (MuSGD multiplies).
_MUP_HIDDEN_LR: Final = "1 if sgd else 1 / width_mult"
_MUP_VECTOR_LR: Final = "width_mult if sgd else 1"
#: The readout: mup's MuReadout divides its input by width_mult in forward; with a zero-initialized weight
#: that is exactly a plain readout trained at lr ÷ width_mult (Adam ignores the gradient's scale; SGD's
#: ×width_mult on MuReadout's vector-like weight cancels against its 1/width_mult² in W/m's update).
#: ``mu_readout=True``: the model's head already divides (mup.MuReadout), so it takes the vector-like lr.
_MUP_READOUT_LR: Final = f"({_MUP_VECTOR_LR}) if mu_readout else 1 / width_mult"
MUP: Final = Recipe(
    "mup",
    "μP (Tensor Programs V): hidden variance ∝ 1/fan_in, embeddings constant, query and readout 0, "
    "Adam LR ÷ width_mult on hidden weights and the readout",
    {
        **_NEUTRAL,
        **_every(_normal("sigma0 / sqrt(width_mult)", "hidden: base std × width_mult^-½", lr=_MUP_HIDDEN_LR)),
        (Role.ATTENTION_QKV, "q"): RoleLaw(
            "zeros", note="zero query (mup README); logits' 1/d_head scale is the model's forward", lr=_MUP_HIDDEN_LR
        ),
        Role.EMBEDDING: _normal("sigma0", "input weights: constant in width", lr=_MUP_VECTOR_LR),
        Role.POSITIONAL: _normal("sigma0", lr=_MUP_VECTOR_LR),
        Role.HEAD: RoleLaw(
            "zeros", note="readout_zero_init; MuReadout's forward ÷ width_mult moved into the lr", lr=_MUP_READOUT_LR
        ),
        Role.BIAS: RoleLaw("zeros", note="vector-like (a readout bias is not: under sgd give it lr 1)",
                           lr=_MUP_VECTOR_LR),
        Role.NORM_SCALE: RoleLaw("ones", lr=_MUP_VECTOR_LR),
        Role.NORM_OFFSET: RoleLaw("zeros", lr=_MUP_VECTOR_LR),
    },
    constants={"sigma0": 0.02, "sgd": False, "mu_readout": False},
    sources=(
        "microsoft/mup mup/init.py constant_std_init_ (matrix-like × width_mult^-½), mup/layer.py MuReadout",
        "mup/optim.py MuAdam, MuSGD; Tensor Programs V (arXiv 2203.03466) Table 3",
    ),
)  # fmt: skip

RECIPES: Final[dict[str, Recipe]] = {
    recipe.name: recipe
    for recipe in (TORCH, KERAS, FLAX, HAIKU, GPT2, BERT, TORCHTITAN, OLMO_MITCHELL, OLMO_FULL_MEGATRON, NEOX, T5,
                   DEEPNET, TFIXUP, REZERO, FIXUP, ZERO, MUP)
}  # fmt: skip
