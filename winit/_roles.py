"""Parameter roles: what a tensor does in a model, named once for every framework (no framework import).

Model-level init (``winit.torch.init_``, and the Keras and Flax counterparts) assigns each parameter
one :class:`Role`; default rules and recipes map roles to schemes. ``KEEP`` as a rule leaves a
parameter as the model's own constructor set it.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

#: Rule value that leaves a parameter as constructed (reported as kept, never drawn).
KEEP: Final = "keep"


class Role(str, Enum):
    """The job of a parameter in its model; the value is the name rules and reports use."""

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
