"""NumPy adapter: ``numpy.random.Generator`` draws in the requested precision (float32 stays float32)."""

from __future__ import annotations

from typing import Any

import numpy as np

from winit._laws import TruncatedNormal

from ._common import Adapter, check_seed, rejection_truncated_normal
from ._philox import InPlaceWords
from ._portable.engine import EagerEngine, Engine, portable_threads
from ._portable.fused import fused_or_eager


class NumpyAdapter(Adapter):
    """Samples with a ``numpy.random.Generator``; float16/bfloat16 are drawn as float32 and cast."""

    name = "numpy"
    default_layout = "keras"  # NumPy code multiplies x @ W, so W is (in, out)
    orthogonal_draw = "tall"
    xp: Any = np  # NumPy 2 implements the array API in its main namespace

    def native_dtype(self, name: str) -> Any:
        if name == "bfloat16":
            try:
                import ml_dtypes
            except ImportError as error:  # pragma: no cover - depends on the environment
                raise TypeError(
                    "NumPy has no bfloat16 of its own; install ml_dtypes (it comes with JAX and "
                    "TensorFlow) or ask for float16, float32 or float64"
                ) from error
            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype(name)

    def linalg_dtype(self, name: str) -> str:
        return name if name in ("float32", "float64") else "float32"

    def _draw_dtype(self, dtype: Any) -> Any:
        return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float32)

    def generator(self, seed: object, device: Any) -> np.random.Generator:
        if isinstance(seed, np.random.Generator):
            return seed
        if (seed is not None and not isinstance(seed, (int, np.integer))) or isinstance(seed, bool):
            raise TypeError(
                f"numpy backend seed must be an int, None or numpy.random.Generator, got {seed!r}"
            )
        return np.random.default_rng(None if seed is None else check_seed(seed))

    def device(self, device: object) -> str:
        if device not in (None, "cpu"):
            raise ValueError(f"numpy arrays live on the CPU; device must be None or 'cpu', got {device!r}")
        return "cpu"

    def on_cpu(self, device: Any) -> bool:
        return True

    def portable_engine(self, device: Any) -> Engine:
        # The fused kernel (numba) when it imports; else the eager engine: uint64 products are
        # exact; 16384 counters a chunk (~1 MB of buffers, in L2) measured
        # fastest. One thread unless WINIT_NUM_THREADS asks for more: NumPy releases the GIL inside
        # each call, but a chunk is ~70 short calls, each a GIL handoff between the workers; on a
        # 2-vCPU VM two threads took 73 ms for a 4096² uniform while the second core was free and
        # 118 ms while it was contended, against a steady 101 ms on one.
        kit = InPlaceWords(np, np.uint64, store={"casting": "unsafe"})
        eager = EagerEngine(np, kit, True, 1 << 14, threads=portable_threads(1), device=device)
        return fused_or_eager(eager, _same_array, unwrap=_writable)

    def full(self, shape: tuple[int, ...], value: float, dtype: Any, device: Any) -> np.ndarray:
        return np.full(shape, value, dtype=dtype)

    def uniform(
        self,
        rng: np.random.Generator,
        shape: tuple[int, ...],
        dtype: Any,
        device: Any,
        low: float,
        high: float,
    ) -> np.ndarray:
        out = rng.random(shape, dtype=self._draw_dtype(dtype))
        out *= high - low
        out += low
        return out.astype(dtype, copy=False)

    def normal(
        self,
        rng: np.random.Generator,
        shape: tuple[int, ...],
        dtype: Any,
        device: Any,
        mean: float,
        sigma: float,
    ) -> np.ndarray:
        out = rng.standard_normal(shape, dtype=self._draw_dtype(dtype))
        out *= sigma
        if mean:
            out += mean
        return out.astype(dtype, copy=False)

    def truncated_normal(
        self, rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, device: Any, law: TruncatedNormal
    ) -> np.ndarray:
        draw = self._draw_dtype(dtype)
        out: np.ndarray = rejection_truncated_normal(
            np,
            lambda n: rng.standard_normal(n, dtype=draw),
            lambda n: rng.random(n),
            shape,
            law,
            draw,
        )
        return out.astype(dtype, copy=False)


ADAPTER = NumpyAdapter()


def _same_array(values: np.ndarray) -> np.ndarray:
    return values


def _writable(values: Any) -> np.ndarray | None:
    return values if isinstance(values, np.ndarray) else None
