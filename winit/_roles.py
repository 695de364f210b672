"""Parameter roles: what a tensor does in a model, named once for every framework (no framework import).

Model-level init (``winit.torch.init_``, and the Keras and Flax counterparts) assigns each parameter
one :class:`Role`; default rules and recipes map roles to schemes. ``KEEP`` as a rule leaves a
parameter as the model's own constructor set it.
"""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import Final

#: Rule value that leaves a parameter as constructed (reported as kept, never drawn).
KEEP: Final = "keep"
#: Kind markers the role walkers attach to a framework's dedicated multi-head-attention layer (torch
#: nn.MultiheadAttention, Keras MultiHeadAttention, Flax MultiHeadAttention): a recipe may key a law on
#: ``(role, kind)``, as the ``torch`` recipe does for the laws of torch's MHA ``_reset_parameters``.
MHA: Final = "mha"
#: torch's MHA ``bias_k``/``bias_v`` (``add_bias_kv=True``): learned key/value rows, not a layer's bias.
MHA_KV: Final = "mha_kv"


class Role(str, Enum):
    """The job of a parameter in its model; the value is the name rules and reports use.

    Examples:
        >>> from winit import Role
        >>> Role("mlp_out") is Role.MLP_OUT, Role.HEAD.value
        (True, 'head')
    """

    EMBEDDING = "embedding"  # token / vocabulary tables
    POSITIONAL = "positional"  # positional tables, cls / mask / register tokens
    ATTENTION_QKV = "attention_qkv"  # q, k, v projections (fused or separate; the block says which)
    ATTENTION_OUT = "attention_out"  # attention output projection (writes into the residual stream)
    MLP_IN = "mlp_in"  # up / gate projections (fused or separate)
    MLP_OUT = "mlp_out"  # down projection (writes into the residual stream)
    NORM_SCALE = "norm_scale"  # norm γ (incl. offset-style (1 + w) norms)
    NORM_OFFSET = "norm_offset"  # norm β
    LAYER_SCALE = "layer_scale"  # per-channel residual gates (CaiT/ConvNeXt γ, ReZero α)
    HEAD = "head"  # readout / classifier / LM head
    BIAS = "bias"  # additive parameters of weight layers
    CONV = "conv"  # convolution kernels outside attention / MLP
    RECURRENT = "recurrent"  # RNN hidden-to-hidden weights
    RECURRENT_INPUT = "recurrent_input"  # RNN input-to-hidden weights
    DENSE = "dense"  # any other weight matrix
    OTHER = "other"  # parameters with laws of their own (Mamba A_log, D, logit scales): kept by default


def name_seed(root: int, name: str, bits: int = 63) -> int:
    """A native seed per parameter name: the first ``bits`` bits of blake2b(f"{root}/{name}"), 8 bytes.

    Each parameter draws from its own seed, so adding a layer elsewhere leaves it as it was; torch and
    Flax take 63 bits, Keras 31 (every Keras backend accepts it).
    """
    digest = hashlib.blake2b(f"{root}/{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - bits)


def canonical_stream(
    unit: str, *, block: int | None = None, occurrence: int = 0, tensor: str = "weight", part: str = ""
) -> str:
    """The framework-neutral name of a parameter: ``{scope}/{unit}#{occurrence}/{tensor}[{part}]``.

    ``rng="portable"`` draws each parameter with this name as its stream, in the canonical layout
    (PyTorch's: ``(out, in, *kernel)``, multi-axis in/out groups flattened in storage order), so
    the same architecture gets the same values in every framework. ``scope`` is ``block{l}`` for a
    parameter of attention block ``l`` (0-based) and ``model`` outside blocks (embeddings, the
    head, a final norm). ``unit`` is the role of the layer's weight (:class:`Role` value, with
    ``.q``/``.k``/``.v`` and the like for named projections: ``attention_qkv.q``) or ``norm`` for
    a norm layer; ``occurrence`` counts the layers of that scope and unit from 0 in the
    framework's layer order (Keras: attribute assignment order in a layer, ``model.layers`` order in
    a functional model; Flax nnx: attributes sorted by name, nnx's graph order; linen: auto-names by
    kind and index), so layers sharing a role in one block (two norms) must be named to sort in
    definition order (``ln1``, ``ln2``) for Keras and Flax to agree; ``tensor`` is ``weight``,
    ``bias``, ``scale`` or ``offset``; ``part`` names a block of a fused tensor drawn as its own
    stream (an LSTM gate). Example: the key projection
    of block 1 is ``block1/attention_qkv.k#0/weight``, its bias ``block1/attention_qkv.k#0/bias``;
    torch's fused ``in_proj_weight`` draws its q rows as ``block1/attention_qkv.q#0/weight``.

    Args:
        unit: the layer's role value, with a projection suffix where it has one (``attention_qkv.k``), or ``norm``.
        block: the 0-based attention block, or None outside blocks.
        occurrence: the layer's index among the scope's layers of that unit.
        tensor: ``weight``, ``bias``, ``scale`` or ``offset``.
        part: a block of a fused tensor drawn as its own stream (an LSTM gate), or "".

    Examples:
        >>> from winit._roles import canonical_stream
        >>> canonical_stream("attention_qkv.k", block=1)
        'block1/attention_qkv.k#0/weight'
        >>> canonical_stream("norm", occurrence=1, tensor="scale")
        'model/norm#1/scale'
        >>> canonical_stream("recurrent", tensor="weight", part="i")
        'model/recurrent#0/weight[i]'
    """
    scope = "model" if block is None else f"block{block}"
    return f"{scope}/{unit}#{occurrence}/{tensor}" + (f"[{part}]" if part else "")
