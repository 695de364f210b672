"""Recipes: the per-role initialization that training codebases write by hand, as data (no framework import).

A :class:`Recipe` maps parameter roles (:class:`winit._roles.Role`, optionally narrowed to a block
such as ``q`` of a fused q/k/v) to a registry scheme whose parameters are formulas over the model's
sizes: ``L`` layers, block index ``l`` (0-based), width ``d``, MLP width ``d_ff``, heads ``h``, head
width ``d_kv``, the tensor's ``fan_in``/``fan_out`` and the recipe's own constants (``sigma0``, ...).
:meth:`Recipe.law` resolves one role to a :class:`winit.Scheme`; :meth:`Recipe.explain` prints
every formula with the numbers put in. The model-level ``init_`` of each framework infers roles and
sizes and applies the same recipe, so a model ported between frameworks starts from the same laws.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from winit._registry import get
from winit._roles import KEEP, Role
from winit._schemes import Scheme
from winit._validate import suggest

#: A formula: a number, or a Python expression over the context names and the functions below.
Formula: TypeAlias = "float | int | str"

_FUNCTIONS: Final[dict[str, Callable[..., float]]] = {
    "sqrt": math.sqrt, "log": math.log, "exp": math.exp, "min": min, "max": max,
}  # fmt: skip
_BINARY: Final[dict[type[ast.operator], Callable[[Any, Any], Any]]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
}  # fmt: skip
_COMPARE: Final[dict[type[ast.cmpop], Callable[[Any, Any], bool]]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}  # fmt: skip
#: What each context name means, for errors and ``explain``.
CONTEXT_NAMES: Final[dict[str, str]] = {
    "L": "number of residual blocks (layers)",
    "l": "0-based index of the parameter's block",
    "d": "model width (d_model, hidden size)",
    "d_ff": "MLP hidden width",
    "h": "number of attention heads",
    "d_kv": "width of one attention head",
    "fan_in": "the tensor's fan_in in its layout",
    "fan_out": "the tensor's fan_out in its layout",
    "N": "encoder layers (DeepNet, T-Fixup)",
    "M": "decoder layers (DeepNet)",
    "width_mult": "width / base width (μP)",
    "hidden": "RNN hidden size",
    "blocks": "equal blocks fused along the tensor's output axis (3 for torch MHA's in_proj_weight, else 1)",
}


def _evaluate(node: ast.AST, names: Mapping[str, Any]) -> Any:
    """The value of one node of a formula: numbers, names, + − × / **, comparisons, ``a if c else b``, calls."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise KeyError(node.id)
        return names[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left, names), _evaluate(node.right, names))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, names)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.IfExp):
        test = _evaluate(node.test, names)
        return _evaluate(node.body if test else node.orelse, names)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        return _COMPARE[type(node.ops[0])](_evaluate(node.left, names), _evaluate(node.comparators[0], names))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        return _FUNCTIONS[node.func.id](*(_evaluate(arg, names) for arg in node.args))
    raise ValueError(f"formula element {ast.unparse(node)!r} is not allowed (numbers, names, + - * / **, "
                     f"comparisons, 'a if c else b', {', '.join(_FUNCTIONS)})")  # fmt: skip


@functools.lru_cache(maxsize=512)
def _parse(formula: str) -> ast.Expression:
    """``formula`` parsed and checked once (every element allowed), so a recipe with a typo fails at import."""
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as error:
        raise ValueError(f"formula {formula!r} is not an expression: {error.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
        ):
            raise ValueError(
                f"formula {formula!r} calls {ast.unparse(node.func)!r}; allowed: {', '.join(_FUNCTIONS)}"
            )
    return tree


def _substituted(formula: str, names: Mapping[str, Any]) -> str:
    """``formula`` with every known name replaced by its value: the middle term of an explanation."""

    class _Put(ast.NodeTransformer):
        def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
            try:  # show only the branch taken
                taken: ast.AST = self.visit(node.body if _evaluate(node.test, names) else node.orelse)
                return taken
            except KeyError:
                return self.generic_visit(node)

        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in names and node.id not in _FUNCTIONS:
                value = names[node.id]
                shown = float(f"{value:.6g}") if isinstance(value, float) else value
                return ast.copy_location(ast.Constant(shown), node)
            return node

    return ast.unparse(_Put().visit(ast.parse(formula, mode="eval")))


@dataclass(frozen=True)
class RoleLaw:
    """A role's law in a recipe: registry ``scheme`` with ``params`` given as formulas; ``note`` says why.

    ``scheme`` is a registry name or ``"keep"`` (leave the parameter as constructed); each formula is a
    number or a Python expression over the context names (``L``, ``d``, ``fan_in``, a recipe constant,
    ...) with ``sqrt``, ``log``, ``exp``, ``min``, ``max``; ``lr`` is the learning-rate multiplier (μP).

    Examples:
        >>> from winit import RoleLaw
        >>> law = RoleLaw("random_normal", {"stddev": "sigma0 / sqrt(2 * L)"}, note="residual output")
        >>> sorted(law.names()), law.values({"sigma0": 0.02, "L": 2})
        (['L', 'sigma0'], {'stddev': 0.01})
    """

    scheme: str
    params: Mapping[str, Formula] = field(default_factory=dict)
    note: str = ""
    lr: Formula = 1.0

    def __post_init__(self) -> None:
        if self.scheme != KEEP:
            get(self.scheme)  # unknown scheme names fail where the recipe is written
        for value in (*self.params.values(), self.lr):
            if isinstance(value, str):
                _parse(value)

    @property
    def keep(self) -> bool:
        """True when the recipe leaves the role as the model's constructor set it."""
        return self.scheme == KEEP

    def names(self) -> set[str]:
        """The context names the formulas read (a parameter may read the parameters before it).

        Examples:
            >>> from winit import RoleLaw
            >>> sorted(RoleLaw("random_normal", {"stddev": "sigma0 / sqrt(width_mult)"}, lr="1 / width_mult").names())
            ['sigma0', 'width_mult']
        """
        found: set[str] = set()
        for value in (*self.params.values(), self.lr):
            if isinstance(value, str):
                tree = _parse(value)
                found |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in _FUNCTIONS}
        return found - set(self.params)

    def lr_multiplier(self, context: Mapping[str, Any]) -> float:
        """The learning-rate multiplier of parameters in this role (μP), 1 unless the recipe says otherwise.

        Args:
            context: the sizes and constants the ``lr`` formula reads.

        Examples:
            >>> from winit import RoleLaw
            >>> RoleLaw("random_normal", {"stddev": 0.02}, lr="1 / width_mult").lr_multiplier({"width_mult": 4})
            0.25
        """
        return _number("lr", self.lr, context)

    def values(self, context: Mapping[str, Any]) -> dict[str, float]:
        """Each parameter's number for ``context``, in order (a formula may read earlier ones).

        Args:
            context: the sizes and constants the formulas read.

        Raises:
            ValueError: a name the context lacks (the message says what it means), or a formula that fails.

        Examples:
            >>> from winit import RoleLaw
            >>> RoleLaw("random_normal", {"stddev": "0.02 / sqrt(2 * L)"}).values({"L": 8})
            {'stddev': 0.005}
            >>> RoleLaw("random_normal", {"stddev": "0.02 / sqrt(2 * L)"}).values({})
            Traceback (most recent call last):
            ...
            ValueError: formula stddev = 0.02 / sqrt(2 * L) needs 'L' (number of residual blocks (layers)); ...
        """
        resolved: dict[str, float] = {}
        for key, value in self.params.items():
            resolved[key] = _number(key, value, {**context, **resolved})
        return resolved


def _number(key: str, value: Formula, context: Mapping[str, Any]) -> float:
    """``value`` (a number or a formula over ``context``) as a finite float; errors name the formula and the gap."""
    if not isinstance(value, str):
        return float(value)
    try:
        number = _evaluate(_parse(value), context)
    except KeyError as missing:
        name = missing.args[0]
        meaning = CONTEXT_NAMES.get(name, "a recipe constant")
        raise ValueError(
            f"formula {key} = {value} needs {name!r} ({meaning}); pass it, e.g. {name}=..."
        ) from None
    except (ZeroDivisionError, OverflowError, ValueError, TypeError) as error:
        raise ValueError(f"formula {key} = {value} fails for {dict(context)}: {error}") from None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
        raise ValueError(f"formula {key} = {value} gives {number!r} for {dict(context)}")
    return float(number)


#: A recipe's key: a role, or (role, block) for one block of a fused or named projection ("q", "up", ...).
RoleKey: TypeAlias = "Role | tuple[Role, str]"


@dataclass(frozen=True)
class Recipe:
    """Per-role laws of a training codebase or framework, with the constants they use and their sources.

    ``laws`` maps a :class:`~winit.Role` (or ``(Role, block)``, e.g. ``(Role.ATTENTION_QKV, "q")``) to
    its :class:`~winit.RoleLaw`; ``constants`` are the formulas' defaults (``sigma0``); ``sources`` cite
    the code or paper each recipe reproduces; roles the recipe does not set get the ``fallback`` rules.
    The built-in recipes are ``winit.recipes()``; the model-level ``init_`` of each front door applies one.

    Examples:
        GPT-2's scaled init, written out (the built-in is ``winit.recipe("gpt2")``):

        >>> from winit import Recipe, Role, RoleLaw
        >>> scaled = Recipe(
        ...     "scaled",
        ...     "N(0, σ₀), residual outputs σ₀/√(2L)",
        ...     laws={Role.MLP_IN: RoleLaw("random_normal", {"stddev": "sigma0"}),
        ...           Role.MLP_OUT: RoleLaw("random_normal", {"stddev": "sigma0 / sqrt(2 * L)"})},
        ...     constants={"sigma0": 0.02},
        ...     sources=("A. Radford et al., Language Models are Unsupervised Multitask Learners, 2019",),
        ... )
        >>> scaled.law("mlp_out", L=2).stddev
        0.01
    """

    name: str
    title: str
    laws: Mapping[RoleKey, RoleLaw]
    constants: Mapping[str, float | bool] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    fallback: str = "default"

    def __post_init__(self) -> None:
        for key in self.laws:
            role = key[0] if isinstance(key, tuple) else key
            if not isinstance(role, Role):
                raise TypeError(f"recipe {self.name!r}: key {key!r} is not a winit Role (or (Role, block))")

    def role_law(self, role: Role | str, part: str = "", kind: str = "") -> RoleLaw | None:
        """The law for ``role``: block ``part`` first, then layer ``kind``, then the whole role; None if unset.

        Args:
            role: a :class:`~winit.Role` or its value (``"mlp_out"``).
            part: a block of a fused or named projection (``"q"``); falls back to the whole role.
            kind: the layer's kind marker (``"mha"``: a framework's multi-head-attention layer), or "".

        Examples:
            >>> import winit
            >>> mup = winit.recipe("mup")
            >>> mup.role_law("attention_qkv", "q").scheme, mup.role_law("attention_qkv", "k").scheme
            ('zeros', 'random_normal')
        """
        role = _role(role)
        if part and (role, part) in self.laws:
            return self.laws[(role, part)]
        if kind and (role, kind) in self.laws:
            return self.laws[(role, kind)]
        return self.laws.get(role)

    def context(self, **sizes: Any) -> dict[str, Any]:
        """The recipe's constants overridden by ``sizes`` (None values are dropped).

        Examples:
            >>> import winit
            >>> winit.recipe("gpt2").context(L=12, d=None)
            {'sigma0': 0.02, 'L': 12}
        """
        return {**self.constants, **{k: v for k, v in sizes.items() if v is not None}}

    def law(self, role: Role | str, part: str = "", **sizes: Any) -> Scheme | None:
        """``role``'s scheme with its formulas evaluated for ``sizes``; None if the recipe does not set it.

        Returns ``None`` too for KEEP laws' callers to test with :meth:`keeps`.

        Args:
            role: a :class:`~winit.Role` or its value.
            part: a block of a fused or named projection (``"q"``).
            **sizes: the model's sizes the formulas read (``L``, ``d``, ``width_mult``, ...) and constant overrides.

        Raises:
            ValueError: a formula needs a size that was not given.

        Examples:
            >>> import winit
            >>> round(winit.recipe("gpt2").law("mlp_out", L=12).stddev, 6)  # 0.02/√(2·12)
            0.004082
            >>> winit.recipe("gpt2").law("layer_scale") is None  # kept as constructed
            True
        """
        found = self.role_law(role, part)
        if found is None or found.keep:
            return None
        return get(found.scheme).with_(**found.values(self.context(**sizes)))

    def keeps(self, role: Role | str, part: str = "") -> bool:
        """True when the recipe says to leave ``role`` as constructed.

        Examples:
            >>> import winit
            >>> winit.recipe("gpt2").keeps("layer_scale"), winit.recipe("gpt2").keeps("mlp_out")
            (True, False)
        """
        found = self.role_law(role, part)
        return found is not None and found.keep

    def explain(self, **sizes: Any) -> str:
        """One line per role: the scheme, each formula, the numbers put in and the value (where sizes allow).

        Examples:
            >>> import winit
            >>> text = winit.recipe("gpt2").explain(L=12)
            >>> print(text.splitlines()[0])
            recipe gpt2: GPT-2 / Megatron scaled init: N(0, σ₀) everywhere, residual outputs σ₀/√(2L)
            >>> print(next(line for line in text.splitlines() if line.startswith("mlp_out")))
            mlp_out                random_normal(stddev = sigma0 / sqrt(2 * L) = 0.02 / sqrt(2 * 12) = 0.00408248)
        """
        context = self.context(**sizes)
        lines = [f"recipe {self.name}: {self.title}"]
        if sizes:
            lines.append("sizes   " + ", ".join(f"{k} = {v}" for k, v in sizes.items() if v is not None))
        for key, role_law in self.laws.items():
            label = f"{key[0].value}[{key[1]}]" if isinstance(key, tuple) else key.value
            if role_law.keep:
                lines.append(f"{label:<22} keep (as the model's constructor set it)")
                continue
            try:
                numbers: dict[str, float] | None = role_law.values(context)
            except ValueError:
                numbers = None  # a size the caller did not give: show the formulas alone
            parts = []
            for param, formula in role_law.params.items():
                if not isinstance(formula, str):
                    parts.append(f"{param} = {formula:g}")
                elif numbers is None:
                    parts.append(f"{param} = {formula}")
                else:
                    middle = _substituted(formula, {**context, **numbers})
                    plain = middle == formula or isinstance(ast.parse(middle, mode="eval").body, ast.Constant)
                    shown = f"{formula}" if plain else f"{formula} = {middle}"
                    parts.append(f"{param} = {shown} = {numbers[param]:.6g}")
            law = f"{role_law.scheme}({'; '.join(parts)})" if parts else role_law.scheme
            if role_law.lr != 1.0:  # μP: the learning-rate multiplier, explained like a parameter
                law += f"  lr × {_explained(role_law.lr, context)}"
            lines.append(f"{label:<22} {law}" + (f"  — {role_law.note}" if role_law.note else ""))
        lines.extend(f"source  {source}" for source in self.sources)
        return "\n".join(lines)


def _explained(formula: Formula, context: Mapping[str, Any]) -> str:
    """``formula = numbers put in = value``, or the formula alone where ``context`` lacks a size."""
    if not isinstance(formula, str):
        return f"{formula:g}"
    try:
        value = _number("lr", formula, context)
    except ValueError:
        return formula
    middle = _substituted(formula, context)
    plain = middle == formula or isinstance(ast.parse(middle, mode="eval").body, ast.Constant)
    return f"{formula} = {value:.6g}" if plain else f"{formula} = {middle} = {value:.6g}"


def _role(role: Role | str) -> Role:
    """``role`` as a :class:`Role`, with the accepted names in the error."""
    if isinstance(role, Role):
        return role
    try:
        return Role(role)
    except ValueError:
        names = [r.value for r in Role]
        raise ValueError(
            f"unknown role {role!r}; roles: {', '.join(names)}.{suggest(str(role), names)}"
        ) from None
