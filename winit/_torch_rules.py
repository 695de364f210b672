"""Which law each parameter of a torch model gets without a recipe: the rules, the pieces they cut, their names.

``winit._torch_model`` plans and writes with these; ``winit._torch_recipe`` builds its rules on them.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from torch import Tensor, nn

from winit._gains import ACTIVATIONS, NONLINEARITIES, recommend
from winit._registry import get
from winit._report import InitRecord
from winit._roles import KEEP, Role
from winit._schemes import Plan, Scheme
from winit._torch_roles import NORM_TYPES
from winit._torch_roles import Slot as RoleSlot
from winit._validate import choice, suggest

SchemeLike: TypeAlias = "str | Scheme"
SchemeRules: TypeAlias = "SchemeLike | Mapping[type[nn.Module] | Role | str, SchemeLike] | None"
_Rule: TypeAlias = "Scheme | str"  # a Scheme, or KEEP

_NORM_TYPES: Final[tuple[type[nn.Module], ...]] = NORM_TYPES
#: default std of tables and transformer projections (GPT-2/Megatron, BERT, ViT, Llama: N(0, 0.02));
#: residual outputs take 0.02/√(2L). Measured against HF's own init: see docs/roles.md.
TRANSFORMER_STD: Final = 0.02
_GATE_NAMES: Final[dict[int, tuple[str, ...]]] = {4: ("i", "f", "g", "o"), 3: ("r", "z", "n")}
_QKV: Final = ("q", "k", "v")


@dataclass(frozen=True)
class _Piece:
    """One write: [start, stop) along ``axis`` of parameter ``attr`` of ``module`` (whole if stop is None).

    ``plan`` None: the rule is KEEP, nothing is written (the report says kept).
    """

    module: nn.Module
    attr: str
    name: str
    plan: Plan | None
    part: str = ""
    start: int = 0
    stop: int | None = None
    axis: int = 0
    role: Role = Role.DENSE
    stream: str = ""  # rng="portable" under a recipe: the canonical stream (winit._roles.canonical_stream)
    canonical: Plan | None = None  # ... and the plan drawn there when the storage is not the canonical layout
    lr: float = 1.0  # the recipe's learning-rate multiplier

    def of(self, tensor: Tensor) -> Tensor:
        """This piece's block of ``tensor`` (the parameter, or a staging tensor of its effective shape)."""
        return tensor if self.stop is None else tensor.narrow(self.axis, self.start, self.stop - self.start)

    def target(self) -> Tensor:
        """The piece's block of the parameter as the module holds it now (materializing may have replaced it)."""
        return self.of(getattr(self.module, self.attr))

    def record(self, name: str, layer: str, shape: tuple[int, ...]) -> InitRecord:
        """The report row of this write (``shape``: the whole parameter's, for a kept row)."""
        if self.plan is None:
            row = InitRecord.keep(name, layer, shape, self.part, role=self.role.value)
            return row if self.lr == 1.0 else dataclasses.replace(row, lr_multiplier=self.lr)
        return InitRecord.from_plan(
            name, layer, self.plan, self.part, role=self.role.value, lr_multiplier=self.lr
        )


class _Rules:
    """Which scheme each parameter gets: name patterns, then module types, then the layer's own default."""

    def __init__(self, scheme: SchemeRules, nonlinearity: str, bias: SchemeLike) -> None:
        self.nonlinearity = choice(
            "nonlinearity", nonlinearity, tuple(dict.fromkeys((*ACTIVATIONS, *NONLINEARITIES)))
        )
        self.patterns: dict[str, _Rule] = {}
        self.types: dict[type[nn.Module], _Rule] = {}
        self.roles: dict[Role, _Rule] = {}
        self.transformer: _Rule | None = None  # None: the role defaults below
        self.weight: _Rule
        if isinstance(scheme, Mapping):
            self.weight = self.resolve(recommend(self.nonlinearity))
            for key, value in scheme.items():
                if isinstance(key, Role):
                    self.roles[key] = self.resolve(value)
                elif isinstance(key, str):
                    self.patterns[key] = self.resolve(value)
                elif isinstance(key, type) and issubclass(key, nn.Module):
                    self.types[key] = self.resolve(value)
                else:
                    raise TypeError(
                        f"scheme mapping keys must be a module type (e.g. torch.nn.Linear), a winit.Role or a "
                        f"parameter-name pattern (str, fnmatch on the qualified name, e.g. '*.bias'); got {key!r}"
                    )
        else:
            self.weight = self.resolve(recommend(self.nonlinearity) if scheme is None else scheme)
            self.transformer = None if scheme is None else self.weight
        self.bias = self.resolve(bias)
        self.orthogonal = get("orthogonal")
        self.embedding = get("random_normal").with_(stddev=TRANSFORMER_STD)
        self.projection = self.embedding
        self.head = get("lecun_normal")  # unit-variance logits from a normed input (measured: docs/roles.md)

    def default(self, slot: RoleSlot, module: nn.Module, param: Tensor) -> _Rule:
        """The law a parameter of this role gets when no rule names it (KEEP: as constructed)."""
        role = slot.role
        if role in self.roles:
            return self.roles[role]
        if role in (Role.NORM_SCALE, Role.NORM_OFFSET):
            if not isinstance(module, NORM_TYPES):
                return KEEP  # a custom norm, maybe offset-style (Gemma's 1 + w): its constructor's identity
            if role is Role.NORM_OFFSET:
                return self.bias
            zero = not param.is_meta and not param.any()
            return KEEP if zero else get("ones")  # a zero-initialized γ (last BN of a residual branch) stays
        if role is Role.BIAS:
            return self.bias
        if role in (Role.EMBEDDING, Role.POSITIONAL):
            return self.embedding
        if role in (Role.ATTENTION_QKV, Role.MLP_IN, Role.HEAD, Role.ATTENTION_OUT, Role.MLP_OUT):
            if self.transformer is not None:
                return self.transformer
            if role is Role.HEAD:
                return self.head
            spec = self.projection
            if role in (Role.ATTENTION_OUT, Role.MLP_OUT) and slot.layers:  # two residual writes per block
                spec = spec.with_(stddev=spec.stddev / math.sqrt(2.0 * slot.layers))
            return spec
        if role is Role.RECURRENT:
            return self.orthogonal
        if role in (Role.LAYER_SCALE, Role.OTHER):
            return KEEP
        return self.weight  # DENSE, CONV, RECURRENT_INPUT: by nonlinearity

    def resolve(self, value: object) -> _Rule:
        """``value`` as a Scheme, or KEEP; a scheme named by string takes ``nonlinearity`` if it has it."""
        if isinstance(value, Scheme):
            return value  # the caller built it; take it as it is
        if value == KEEP:
            return KEEP
        if not isinstance(value, str):
            raise TypeError(f"a scheme must be a name or a winit.Scheme, got {value!r}")
        spec = get(value)
        if "nonlinearity" in spec.parameters and self.nonlinearity in NONLINEARITIES:
            spec = spec.with_(nonlinearity=self.nonlinearity)
        return spec

    def check_patterns(self, names: list[str]) -> None:
        """A pattern that matches no parameter is almost always a typo: say so before anything is written."""
        for pattern in self.patterns:
            if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
                raise ValueError(
                    f"scheme pattern {pattern!r} matches no parameter of the model; parameters: "
                    f"{', '.join(names)}.{suggest(pattern, names)}"
                )

    def match(self, name: str, module: nn.Module, *, typed: bool = True) -> _Rule | None:
        """The first pattern matching ``name``, else (if ``typed``) the most specific type rule, else None."""
        for pattern, spec in self.patterns.items():
            if fnmatch.fnmatchcase(name, pattern):
                return spec
        if typed:
            for cls in type(module).__mro__:
                if cls in self.types:
                    return self.types[cls]
        return None

    def pick(self, name: str, module: nn.Module, default: _Rule, *, typed: bool = True) -> _Rule:
        """The scheme for parameter ``name``: a matching rule (see :meth:`match`), else ``default``."""
        spec = self.match(name, module, typed=typed)
        return default if spec is None else spec


def _is_bias(attr: str) -> bool:
    """bias, bias_ih_l0, bias_k, in_proj_bias, ...: torch's names for additive parameters."""
    return attr == "bias" or attr.startswith("bias_") or attr.endswith("_bias")


#: plans already made in one planning pass: (id(scheme), shape, layout, axes) -> (scheme, plan); the
#: scheme is held so that its id cannot be reused while the memo lives
