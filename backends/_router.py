"""The router: a plan to its adapter's native samplers (``_common.sample``) or to the portable engine.

The top of ``backends/``: it imports ``_common`` and ``_portable``, and nothing imports it but the
spec (``winit.init``) and the front doors.
"""

from __future__ import annotations

from typing import Any

from winit._laws import Normal, Orthogonal, TruncatedNormal, Uniform
from winit._schemes import Plan

from ._common import LOW_PRECISION, Adapter, check_fits, check_size, clamp_support, dtype_name, sample
from ._portable import check_rng, realize_portable


def realize(
    adapter: Adapter,
    plan: Plan,
    *,
    seed: object = None,
    dtype: object = "float32",
    device: object = None,
    rng: str = "native",
    stream: object = None,
    shard: object = None,
    framework_bits: bool = False,
) -> Any:
    """Sample ``plan`` into a new native tensor of ``adapter``'s framework.

    ``rng="portable"`` (with optional ``stream`` and ``shard``) hands over to ``_portable``.
    float16/bfloat16 are drawn in float32, rounded to nearest and kept inside the law's support
    (``sample``); ``framework_bits=True`` draws them natively instead (the front doors' bit parity
    with Keras and jax.nn.initializers).
    """
    name = dtype_name(dtype)
    check_fits(plan.law, name)
    if shard is None or isinstance(plan.law, Orthogonal):  # a shard draws only its block
        check_size(adapter, plan, name, adapter.device(device))
    if rng != "native" or stream is not None or shard is not None:
        if check_rng(rng) == "portable":
            return realize_portable(
                adapter, plan, seed=seed, dtype=dtype, device=device, stream=stream, shard=shard
            )
        raise ValueError(
            "stream= and shard= need rng='portable': the native generators are not counter-based, "
            "so a block of their output cannot be drawn on its own"
        )
    native = adapter.native_dtype(name)
    dev = adapter.device(device)
    law = plan.law
    if not isinstance(law, (Uniform, Normal, TruncatedNormal, Orthogonal)):
        return sample(adapter, None, plan, name, native, dev)  # no randomness: no generator to build
    rng = adapter.generator(seed, dev)
    # The draw_law hook: an adapter may draw a law its framework's own way (JAX rounds the variance to
    # the dtype first, as jax.nn.initializers do); None leaves the law to the samplers.
    # Under the dtype policy float16/bfloat16 take the float32 draw, rounded and clamped (as ``sample``).
    wide = name in LOW_PRECISION and not framework_bits
    draw = adapter.native_dtype("float32") if wide else native
    if (drawn := adapter.draw_law(rng, plan.shape, draw, dev, law)) is not None:
        if framework_bits:
            return drawn
        return clamp_support(adapter.xp, adapter.xp.astype(drawn, native) if wide else drawn, law, name)
    return sample(adapter, rng, plan, name, native, dev, framework_bits=framework_bits)
