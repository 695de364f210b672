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

#: the backends winit.init draws with (each an extra: pip install "winit[torch]").
BACKENDS: Final[tuple[str, ...]] = ("numpy", "torch", "tensorflow", "jax")
_BACKEND_ALIASES: Final = {"np": "numpy", "pytorch": "torch", "tf": "tensorflow"}


def backend(name: str) -> Adapter:
    """The adapter for backend ``name`` (numpy, torch, tensorflow, jax); ImportError names the missing extra.

    Args:
        name: ``numpy``, ``torch``, ``tensorflow`` or ``jax`` (aliases ``np``, ``pytorch``, ``tf``).

    Returns:
        The backend's adapter: what :func:`init` hands a :class:`~winit.Plan` to for sampling.

    Raises:
        ValueError: an unknown name (the message lists the known ones).
        ImportError: the backend's framework is not installed (the message names the extra).

    Examples:
        >>> import winit
        >>> winit.backend("np").name
        'numpy'
    """
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
    """Resolve ``scheme`` (with ``params`` changed) for ``shape``: fans, gain, std, bound and law.

    Nothing is sampled: the returned :class:`~winit.Plan` holds every number a backend will use, and
    ``Plan.explain()`` shows the formula with them put in.

    Args:
        scheme: a registry name or alias (``winit.schemes()``), or a :class:`~winit.Scheme`.
        shape: the weight's shape.
        layout: where the channels are: ``torch`` ``(out, in, *kernel)``, ``keras``/``flax``
            ``(*kernel, in, out)``, or their ``_transpose`` variants (see :func:`~winit.fans`).
        in_axis: input axes, overriding the layout (as ``jax.nn.initializers.variance_scaling``).
        out_axis: output axes, overriding the layout.
        batch_axis: axes counted in neither fan (stacked experts, heads).
        **params: the scheme's parameters (``Scheme.with_``), e.g. ``gain``, ``mode``, ``nonlinearity``.

    Returns:
        The resolved plan: ``fan_in``, ``fan_out``, ``gain``, ``std``, ``bound`` and the sampling ``law``.

    Examples:
        Glorot's uniform limit √(6/(fan_in + fan_out)) for a 784 → 256 dense kernel:

        >>> import winit
        >>> p = winit.plan("glorot_uniform", (784, 256), layout="keras")
        >>> p.fan_in, p.fan_out, round(p.bound, 6)
        (784, 256, 0.075955)
        >>> print(winit.plan("he_normal", (64, 3, 3, 3)).explain().splitlines()[5])
        std      gain·√(scale/fan) = 1.41421·√(1/27) = 0.272166
    """
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

    Args:
        scheme: a registry name or alias (``winit.schemes()``), or a :class:`~winit.Scheme`.
        shape: the tensor's shape.
        backend: ``numpy``, ``torch``, ``tensorflow`` or ``jax``.
        seed: an int, None, or the backend's own generator or key.
        dtype: a floating dtype, by name or the backend's own (fp8 is refused: draw float32 and scale).
        device: the backend's device (torch ``"cuda"``, a JAX device, a TF device string); None: default.
        layout: where the channels are (see :func:`~winit.fans`); None: the backend's convention.
        in_axis: input axes, overriding the layout.
        out_axis: output axes, overriding the layout.
        batch_axis: axes counted in neither fan.
        rng: ``"native"`` (the backend's RNG) or ``"portable"`` (winit's Philox, the same on every backend).
        stream: with ``rng="portable"``, the stream's name or id (one per tensor).
        shard: with ``rng="portable"``, the block of the global tensor to draw.
        framework_bits: keep the framework's own low-precision draw (see above).
        **params: the scheme's parameters (``Scheme.with_``), e.g. ``nonlinearity="relu"``.

    Returns:
        A new tensor of the backend's own type (``numpy.ndarray``, ``torch.Tensor``, ``tf.Tensor``,
        ``jax.Array``).

    Examples:
        >>> import numpy as np
        >>> import winit
        >>> w = winit.init("glorot_uniform", (784, 256), seed=0)
        >>> w.shape, w.dtype
        ((784, 256), dtype('float32'))
        >>> bool(np.abs(w).max() <= winit.plan("glorot_uniform", (784, 256), layout="keras").bound)
        True
        >>> q = winit.init("orthogonal", (4, 4), seed=0)
        >>> bool(np.allclose(q @ q.T, np.eye(4), atol=1e-6))
        True
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
