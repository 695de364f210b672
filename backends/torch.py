"""PyTorch adapter: ``torch.Generator`` on the tensor's device, torch's own in-place samplers."""

from __future__ import annotations

import warnings
from typing import Any

try:
    import array_api_compat.torch as _xp
    import torch
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "winit's torch backend needs PyTorch and array-api-compat: pip install 'winit[torch]'"
    ) from error

from winit._laws import TruncatedNormal
from winit._schemes import Plan

from ._common import check_fits, check_seed, dtype_name, rejection_truncated_normal, sample, tail_proposal

_WIDE = (torch.float32, torch.float64)


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
        if isinstance(device, bool) or not isinstance(device, (str, int, torch.device)):
            raise TypeError(f"torch device must be a str, int or torch.device, got {device!r}")
        try:
            resolved = torch.device(device)
            torch.empty(0, device=resolved)  # an unavailable backend (cuda on a CPU build) fails here
        except (RuntimeError, AssertionError) as error:
            raise ValueError(f"torch device {device!r} is not usable here: {error}") from error
        return resolved

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

    def full(
        self, shape: tuple[int, ...], value: float, dtype: torch.dtype, device: torch.device,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        if out is not None:
            return out.fill_(value)
        return torch.full(shape, value, dtype=dtype, device=device)

    def _empty(
        self,
        shape: tuple[int, ...],
        dtype: torch.dtype,
        device: torch.device,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # ``out`` is the caller's tensor to fill in place (winit.torch's front door); None allocates.
        return torch.empty(shape, dtype=dtype, device=device) if out is None else out

    def uniform(
        self, rng: torch.Generator | None, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
        low: float, high: float, out: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        return self._empty(shape, dtype, device, out).uniform_(low, high, generator=rng)

    def normal(
        self, rng: torch.Generator | None, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
        mean: float, sigma: float, out: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        return self._empty(shape, dtype, device, out).normal_(mean, sigma, generator=rng)

    def truncated_normal(
        self, rng: torch.Generator | None, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device,
        law: TruncatedNormal, out: torch.Tensor | None = None,
    ) -> torch.Tensor:  # fmt: skip
        proposal = tail_proposal(law.lower, law.upper)
        if law.sigma != 0 and (proposal == "exponential" or (proposal == "uniform" and dtype not in _WIDE)):
            # torch's thin-window sampler proposes U(a, b) in the tensor's dtype and accepts with
            # log(u) of a uniform that can be 0: it hangs on far windows and leaks values there.
            drawn = rejection_truncated_normal(
                _xp, lambda n: torch.randn(n, dtype=dtype, device=device, generator=rng),
                lambda n: torch.rand(n, dtype=torch.float64, device=device, generator=rng),
                shape, law, dtype, device,
            )  # fmt: skip
            return out.copy_(drawn) if out is not None else drawn
        tensor = self._empty(shape, dtype, device, out)
        lo = law.mean + law.lower * law.sigma
        hi = law.mean + law.upper * law.sigma
        if law.sigma == 0:
            return tensor.fill_(law.mean)
        with warnings.catch_warnings():
            # torch warns when the window lies beyond mean ± 2σ; its thin-window sampler is exact there.
            warnings.filterwarnings("ignore", "mean is more than 2 std", UserWarning)
            return torch.nn.init.trunc_normal_(tensor, law.mean, law.sigma, lo, hi, generator=rng)

    def realize_into(
        self, plan: Plan, out: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Sample ``plan`` into ``out`` in place under no_grad; ``generator=None`` draws from torch's default one.

        Elementwise laws fill ``out`` directly (no second tensor); orthogonal, identity and dirac are
        built by the shared structured samplers and copied in. A meta tensor has no storage, so once
        the plan exists (shape already validated) there is nothing to write.
        """
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"out must be a torch.Tensor, got {type(out).__name__}")
        if tuple(out.shape) != plan.shape:
            raise ValueError(f"out has shape {tuple(out.shape)} but the plan is for shape {plan.shape}")
        name = dtype_name(out.dtype)
        check_fits(plan.law, name)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {generator!r}")
        if out.is_meta:
            return out
        if generator is not None:
            self.generator(generator, out.device)  # rejects a generator on another device type
        with torch.no_grad():
            # winit.torch promises torch.nn.init's bits, so torch's own in-dtype draw, unclamped.
            result = sample(self, generator, plan, name, out.dtype, out.device, out=out, framework_bits=True)
            if result is not out:  # structured laws build a new tensor
                out.copy_(result)
        return out


ADAPTER = TorchAdapter()
