"""PyTorch adapter: ``torch.Generator`` on the tensor's device, torch's own in-place samplers."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager
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

from ._common import (
    Adapter,
    check_fits,
    check_seed,
    dtype_name,
    rejection_truncated_normal,
    sample,
    tail_proposal,
    uniform_acceptance,
)
from ._philox import InPlaceWords, WordArithmetic
from ._portable.bits import Recipe
from ._portable.engine import EagerEngine, Engine, portable_threads
from ._portable.fused import fused_or_eager
from ._portable.kernels import ACCELERATOR_CALL_COUNTERS, CALL_COUNTERS, CompiledKernels, kernel_body

_WIDE = (torch.float32, torch.float64)


def torch_seed(seed: int, device: torch.device) -> int:
    """``seed`` for ``manual_seed``; on CPU a seed ≥ 2³² folded to 32 bits by SplitMix64's finalizer (hi ⊕ lo).

    The CPU generator (mt19937) keeps only ``seed mod 2³²``, so seeds 5 and 2³² + 5 would draw the
    same tensor; folding all 64 bits keeps every seed < 2³² as torch's own ``manual_seed(seed)``.
    A 32-bit state cannot hold 2⁶³ seeds: a folded seed equals some seed < 2³² (a pseudo-random one).
    CUDA's Philox generator takes all 64 bits as they are.
    """
    if seed < 2**32 or device.type != "cpu":
        return seed
    mask = 2**64 - 1
    z = (seed + 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return (z ^ (z >> 32)) & 0xFFFFFFFF


@functools.cache
def _openmp() -> Any:
    """The OpenMP runtime under torch's intra-op pool (ctypes), or None where it is not found.

    ``torch.set_num_threads`` is process-wide (it also sets the count every thread's first torch op
    copies, and the pthreadpool's size), so concurrent torch work elsewhere would change; OpenMP's
    own ``omp_set_num_threads`` sets the calling thread's count alone, which is what a draw needs.
    """
    torch.get_num_threads()  # loads torch's runtime and sets this thread's count first
    lib = os.path.join(os.path.dirname(torch.__file__), "lib")
    names = sorted(os.listdir(lib)) if os.path.isdir(lib) else []
    candidates = [os.path.join(lib, n) for n in names if n.startswith(("libgomp", "libiomp", "libomp"))]
    candidates.append("")  # symbols already loaded into the process (torch's runtime, globally)
    for path in candidates:
        try:
            runtime = ctypes.CDLL(path or None)
            if runtime.omp_get_max_threads() == torch.get_num_threads():
                return runtime
        except (OSError, AttributeError):
            continue
    return None


@contextlib.contextmanager
def on_this_thread() -> Iterator[None]:
    """torch's intra-op threads set to 1 for the block, on the calling thread only (OpenMP's count), then restored.

    Never ``torch.set_num_threads``: that changes every thread's count. Without an OpenMP runtime
    the draw runs as torch schedules it: the values are the same, only slower on small chunks.
    """
    threads = torch.get_num_threads()  # torch's first op on a thread sets its count: do that first
    runtime = _openmp() if threads > 1 else None
    if runtime is not None:
        runtime.omp_set_num_threads(1)
    try:
        yield
    finally:
        if runtime is not None:
            runtime.omp_set_num_threads(threads)


@functools.cache
def torch_kernel(recipe: Recipe, segments: int, width: int, work: str) -> Any:
    """``torch.compile`` of :func:`.kernel_body` (Inductor: a C++/OpenMP loop on CPU, a Triton kernel on CUDA)."""
    dtype = getattr(torch, work)

    def kernel(starts: Any, words: Any, numbers_: Any) -> Any:
        kit = WordArithmetic(_xp, torch.int64, signed=True, device=starts.device)
        return kernel_body(_xp, kit, torch.stack, starts, words, numbers_, recipe, segments, width, dtype)

    return torch.compile(kernel, dynamic=False, fullgraph=True)


def torch_compile_enabled() -> bool:
    """Whether ``WINIT_TORCH_COMPILE`` asks for compiled torch kernels ("1") or not ("0", unset)."""
    setting = os.environ.get("WINIT_TORCH_COMPILE", "0").strip()
    if setting not in ("0", "1"):
        raise ValueError(f"WINIT_TORCH_COMPILE must be '0' or '1', got {setting!r}")
    return setting == "1"


def _is_compile_failure(error: Exception) -> bool:
    """Whether ``error`` says torch.compile cannot build here (no C++ compiler, say), not a bug of ours."""
    return type(error).__module__.startswith(("torch._dynamo", "torch._inductor"))


class TorchAdapter(Adapter):
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

    def on_cpu(self, device: torch.device | None) -> bool:
        return getattr(device, "type", "cpu") == "cpu"

    def portable_engine(self, device: torch.device | None) -> Engine:
        # int64 words: torch has no uint64 shifts, and int64 products wrap with their bits intact.
        # On CPU, chunks of 32768 counters (buffers in cache) run on as many worker threads as
        # torch's intra-op setting allows, each op on its thread alone (see portable_scope); a GPU
        # wants few large launches. The words use torch itself: its integer ops spell the array
        # API's names, take ``out=``, and each call skips array_api_compat's promotion wrapper.
        cpu = self.on_cpu(device)
        kit = InPlaceWords(torch, torch.int64, signed=True, device=device)
        threads = portable_threads(torch.get_num_threads()) if cpu else 1
        compiled = None
        if torch_compile_enabled():  # compiled kernels run on torch's own threads, outside portable_scope
            calls = CALL_COUNTERS if cpu else ACCELERATOR_CALL_COUNTERS
            compiled = CompiledKernels("torch", torch_kernel, calls, _is_compile_failure)
        eager = EagerEngine(
            self.xp, kit, True, 1 << 15 if cpu else 1 << 22, threads=threads, device=device,
            scope=functools.partial(self.portable_scope, device), worker_scope=on_this_thread, compiled=compiled,
        )  # fmt: skip
        # On CPU (unless torch.compile was asked for) the fused kernel (numba) when it imports: it
        # fills a NumPy array that torch.from_numpy shares without a copy.
        return (
            eager
            if not cpu or compiled is not None
            else fused_or_eager(eager, torch.from_numpy, threads, _numpy_view)
        )

    def portable_scope(self, device: torch.device | None) -> AbstractContextManager[None]:
        """On CPU the draw runs on this thread alone (:func:`on_this_thread`).

        Its chunks are sized to stay under torch's parallel grain anyway, except that ``log`` and
        ``sqrt`` split anything over 2048 elements, and waking the intra-op pool for each chunk's log
        costs more than the log (milliseconds on a busy machine).
        """
        return on_this_thread() if self.on_cpu(device) else contextlib.nullcontext()

    def generator(self, seed: object, device: torch.device) -> torch.Generator | None:
        if isinstance(seed, torch.Generator):
            if seed.device.type != device.type:
                raise ValueError(
                    f"generator is on {seed.device} but the tensor goes to {device}; pass a generator "
                    f"created with torch.Generator(device={str(device)!r})"
                )
            return seed
        if device.type == "meta":  # shapes and dtypes only: nothing is drawn, and no generator lives there
            if seed is not None:
                check_seed(seed)
            return None
        generator = torch.Generator(device=device)
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(torch_seed(check_seed(seed), device))
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
        thin = tail_proposal(law.lower, law.upper) != "normal"
        if (
            law.sigma != 0
            and thin
            and (dtype not in _WIDE or uniform_acceptance(law.lower, law.upper) < 0.25)
        ):
            # torch's thin-window sampler proposes U(a, b) in the tensor's dtype and accepts with log(u) of
            # a uniform that can be 0: it hangs on far windows and leaks values into thin ones ([3σ, 100σ]).
            # Where U(a, b) accepts ≥ 25% (in float32/64) torch's own draw is kept, for bit parity.
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


def _numpy_view(tensor: Any) -> Any:
    """A float32/float64 CPU tensor's memory as a NumPy array (None for other tensors)."""
    if not isinstance(tensor, torch.Tensor) or tensor.device.type != "cpu":
        return None
    if tensor.dtype not in (torch.float32, torch.float64) or tensor.is_conj() or tensor.is_neg():
        return None
    return tensor.detach().numpy()


ADAPTER = TorchAdapter()
