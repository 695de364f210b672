"""PyTorch adapter: ``torch.Generator`` on the tensor's device, torch's own in-place samplers."""

from __future__ import annotations

from typing import Any

try:
    import array_api_compat.torch as _xp
    import torch
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "winit's torch backend needs PyTorch and array-api-compat: pip install 'winit[torch]'"
    ) from error

from winit._laws import TruncatedNormal

from ._common import check_seed


class TorchAdapter:
    """Fills ``torch.empty`` tensors with ``uniform_``/``normal_``/``trunc_normal_``, as torch.nn.init does."""

    name = "torch"
    default_layout = "torch"
    orthogonal_draw = "rows_then_transpose"  # torch.nn.init.orthogonal_'s order, for bit parity
    xp: Any = _xp

    def native_dtype(self, name: str) -> torch.dtype:
        dtype: torch.dtype = getattr(torch, name)
        return dtype

    def linalg_dtype(self, name: str) -> str:
        return name if name in ("float32", "float64") else "float32"

    def device(self, device: object) -> torch.device:
        if device is None:
            return torch.get_default_device()
        if not isinstance(device, (str, int, torch.device)):
            raise TypeError(f"torch device must be a str, int or torch.device, got {device!r}")
        return torch.device(device)

    def generator(self, seed: object, device: torch.device) -> torch.Generator:
        if isinstance(seed, torch.Generator):
            if seed.device.type != device.type:
                raise ValueError(
                    f"generator is on {seed.device} but the tensor goes to {device}; pass a generator "
                    f"created with torch.Generator(device={str(device)!r})"
                )
            return seed
        generator = torch.Generator(device=device)
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(check_seed(seed))
        return generator

    def full(self, shape: tuple[int, ...], value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        return torch.full(shape, value, dtype=dtype, device=device)

    def _empty(self, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        return torch.empty(shape, dtype=dtype, device=device)

    def uniform(
        self, rng: torch.Generator, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
        low: float, high: float,
    ) -> torch.Tensor:  # fmt: skip
        return self._empty(shape, dtype, device).uniform_(low, high, generator=rng)

    def normal(
        self, rng: torch.Generator, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
        mean: float, sigma: float,
    ) -> torch.Tensor:  # fmt: skip
        return self._empty(shape, dtype, device).normal_(mean, sigma, generator=rng)

    def truncated_normal(
        self, rng: torch.Generator, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
        law: TruncatedNormal,
    ) -> torch.Tensor:  # fmt: skip
        tensor = self._empty(shape, dtype, device)
        lo = law.mean + law.lower * law.sigma
        hi = law.mean + law.upper * law.sigma
        if law.sigma == 0:
            return tensor.fill_(law.mean)
        return torch.nn.init.trunc_normal_(tensor, law.mean, law.sigma, lo, hi, generator=rng)


ADAPTER = TorchAdapter()
