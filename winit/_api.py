"""``winit.init``: resolve a scheme for a shape and sample it with a backend's own RNG."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from winit._fans import AxisSpec
from winit._registry import get
from winit._schemes import Plan, Scheme
from winit._validate import choice

if TYPE_CHECKING:  # the adapters import NumPy, which ``import winit`` does not
    from winit.backends._common import Adapter

BACKENDS: Final[tuple[str, ...]] = ("numpy", "torch", "tensorflow", "jax")
_BACKEND_ALIASES: Final = {"np": "numpy", "pytorch": "torch", "tf": "tensorflow"}


def backend(name: str) -> Adapter:
    """The adapter for backend ``name`` (numpy, torch, tensorflow, jax); ImportError names the missing extra."""
    key = _BACKEND_ALIASES.get(name, name) if isinstance(name, str) else name
    key = choice("backend", key, BACKENDS)
    adapter: Adapter = importlib.import_module(f"winit.backends.{key}").ADAPTER
    return adapter


def plan(
    scheme: str | Scheme,
    shape: Sequence[int],
    *,
    layout: str = "torch",
    in_axis: AxisSpec | None = None,
    out_axis: AxisSpec | None = None,
    batch_axis: AxisSpec = (),
    **params: Any,
) -> Plan:
    """Resolve ``scheme`` (with ``params`` changed) for ``shape``: fans, gain, std, bound and law."""
    spec = get(scheme)
    if params:
        spec = spec.with_(**params)
    return spec.plan(shape, layout, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis)


def init(
    scheme: str | Scheme,
    shape: Sequence[int],
    *,
    backend: str = "numpy",
    seed: Any = None,
    dtype: Any = "float32",
    device: Any = None,
    layout: str | None = None,
    in_axis: AxisSpec | None = None,
    out_axis: AxisSpec | None = None,
    batch_axis: AxisSpec = (),
    rng: str = "native",
    stream: int | str | None = None,
    shard: Any = None,
    framework_bits: bool = False,
    **params: Any,
) -> Any:
    """A new ``backend`` tensor of ``shape`` drawn from ``scheme``'s law.

    ``seed``: an int (deterministic), None (fresh entropy) or the backend's own generator
    (``numpy.random.Generator``, ``torch.Generator``, a JAX key, ``tf.random.Generator``).
    ``layout`` defaults to the backend's (numpy/tensorflow: keras, torch: torch, jax: flax).
    ``rng="portable"``: Philox-4x32-10 keyed by (int ``seed``, ``stream``: a name or int id), the
    same numbers on every backend and device; ``shard``: a tuple of slices (or, for jax, a
    ``jax.sharding.Sharding``) selecting a block of the global tensor, equal to that block of the whole.
    float16/bfloat16 are drawn in float32, rounded to nearest and kept inside the law's support;
    ``framework_bits=True`` keeps the framework's own in-dtype draw (what Keras and
    ``jax.nn.initializers`` return for the same seed or key), unclamped.
    """
    adapter = _backend(backend)
    resolved = plan(
        scheme,
        shape,
        layout=adapter.default_layout if layout is None else layout,
        in_axis=in_axis,
        out_axis=out_axis,
        batch_axis=batch_axis,
        **params,
    )
    from winit.backends._router import realize

    return realize(
        adapter, resolved, seed=seed, dtype=dtype, device=device, rng=rng, stream=stream, shard=shard,
        framework_bits=framework_bits,
    )  # fmt: skip


_backend = backend
