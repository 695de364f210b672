"""The rows of ``Plan.explain``: each piece's line with the plan's numbers put in, and the law in words."""

from __future__ import annotations

from typing import TYPE_CHECKING

from winit._laws import (
    Constant,
    Identity,
    Law,
    Normal,
    Orthogonal,
    TruncatedNormal,
    Uniform,
    ZerO,
    zer_o_scale,
)
from winit._pieces import ExplainRow, TruncatedNormalDist, UniformDist

if TYPE_CHECKING:  # pragma: no cover - typing only; _schemes imports this module
    from winit._schemes import Plan


def plan_rows(plan: Plan) -> tuple[ExplainRow, ...]:
    """What ``plan.explain()`` prints, as (label, text) rows: one fact per row, one row per piece."""
    s = plan.scheme
    rows = [
        ("scheme", f"{s.name}: {s.description}"),
        ("shape", f"{plan.shape} (layout {plan.layout})"),
        ("fans", f"fan_in = {plan.fan_in}, fan_out = {plan.fan_out}"),
        s.gain_rule.explain(),
    ]
    if s.multiplier != 1.0:
        rows.append(s.post.explain())
    if s.fans is not None and s.variance is not None:
        fan = s.fans.fan(plan.fan_in, plan.fan_out)
        rows.append(s.fans.explain(plan.fan_in, plan.fan_out))
        rows.append(s.variance.explain(plan.gain, fan, s.multiplier, plan.std))
        rows.append(("bound", f"√3·std = {plan.bound:.6g}"))
        if isinstance(plan.law, Uniform) and s.fan_power == 0.5 and s.multiplier == 1.0:
            rows.append(
                UniformDist.explain(plan.gain, s.scale, s.fans, plan.fan_in, plan.fan_out, plan.law.high)
            )
        if isinstance(plan.law, TruncatedNormal) and isinstance(s.dist, TruncatedNormalDist):
            sigma_row = s.dist.explain(plan.std, plan.law.sigma)
            if sigma_row:
                rows.append(sigma_row)
    else:
        rows.append(("std", f"{plan.std:.6g}"))
        rows.append(("bound", f"{plan.bound:.6g}"))
        if isinstance(plan.law, ZerO):
            rows.append(zer_o_row(plan.law, plan.shape))
    rows.append(("law", describe_law(plan.law)))
    return tuple(rows)


def zer_o_row(law: ZerO, shape: tuple[int, ...]) -> ExplainRow:
    """``(zer_o, out ≤ in: partial identity)`` or ``(zer_o, out > in: c = 2^(−(m−1)/2) = …)`` for this shape."""
    out, in_ = shape[law.out_axis], shape[law.in_axis]
    if out <= in_:
        return ("zer_o", f"out = {out} ≤ in = {in_}: partial identity (ones where out index = in index)")
    m = max(out - 1, 1).bit_length()
    return (
        "zer_o",
        f"out = {out} > in = {in_}: c·H_{m}[:out, :in], m = ⌈log₂ {out}⌉ = {m}, "
        f"c = 2^(−({m}−1)/2) = {zer_o_scale(out):.6g}",
    )


def describe_law(law: Law) -> str:
    """The sampling law in words, with its numbers (the ``law`` row)."""
    if isinstance(law, Constant):
        return f"every element = {law.value:g}"
    if isinstance(law, Uniform):
        return f"U[{law.low:.6g}, {law.high:.6g})"
    if isinstance(law, Normal):
        return f"N(mean={law.mean:g}, std={law.sigma:.6g})"
    if isinstance(law, TruncatedNormal):
        lo, hi = law.mean + law.lower * law.sigma, law.mean + law.upper * law.sigma
        window = f"[{lo:.6g}, {hi:.6g}] ({law.lower:g}σ, {law.upper:g}σ)"
        return f"N(mean={law.mean:g}, σ={law.sigma:.6g}) truncated to {window}"
    if isinstance(law, Orthogonal):
        return (
            f"{law.gain:g}·Q, Q Haar orthogonal with axis {law.out_axis} as rows "
            "(QR of a Gaussian, sign of diag(R))"
        )
    if isinstance(law, Identity):
        return f"{law.gain:g}·I"
    if isinstance(law, ZerO):
        return f"{law.gain:g}·ZerO: partial identity if out ≤ in, else c·H[:out, :in] (c = 2^(−(⌈log₂ out⌉−1)/2))"
    return f"{law.gain:g} at the kernel centre, out_channel % (out/{law.groups}) == in_channel"
