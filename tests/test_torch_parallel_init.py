"""init_(seed=...)'s native draws spread over CPU threads (one generator per parameter): same values as serial."""

from __future__ import annotations

import threading

import pytest
import torch

import winit._torch_model as torch_model
import winit._torch_write as torch_write
import winit.torch as wt
from tests.test_torch_model_pins import BUILDERS, PINS, SCHEMES, digest, pinned

pytest.importorskip("transformers")

NATIVE = sorted(key for key in PINS if key[2] == "native")


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every write on the parallel path (two threads, no size floor); yields the threads that drew."""
    monkeypatch.setenv("WINIT_NUM_THREADS", "2")
    monkeypatch.setattr(torch_write, "_PARALLEL_MIN", 0)
    seen: list[str] = []
    write = torch_write.write_native

    def spy(*args: object, **kwargs: object) -> None:
        seen.append(threading.current_thread().name)
        write(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch_model, "write_native", spy)
    return seen


@pytest.mark.parametrize(("model", "scheme", "rng"), NATIVE)
def test_parallel_native_writes_give_the_pinned_values(
    model: str, scheme: str, rng: str, parallel: list[str]
) -> None:
    torch.manual_seed(1)
    built = BUILDERS[model]()
    wt.init_(built, SCHEMES[scheme], seed=0, rng=rng)
    assert digest(built) == pinned((model, scheme, rng))
    assert any(name.startswith("winit-worker") for name in parallel), "no write ran on a worker thread"
    assert all(p.grad_fn is None and p.requires_grad for p in built.parameters())


def test_one_thread_draws_on_the_caller(monkeypatch: pytest.MonkeyPatch, parallel: list[str]) -> None:
    monkeypatch.setenv("WINIT_NUM_THREADS", "1")
    wt.init_(BUILDERS["gpt2"](), seed=0)
    assert parallel and set(parallel) == {threading.current_thread().name}


def test_a_shared_generator_is_never_split(parallel: list[str]) -> None:
    """generator= and the global RNG are one stream in module order: drawn on the caller, in order."""
    model = BUILDERS["gpt2"]()
    wt.init_(model, generator=torch.Generator().manual_seed(0))
    wt.init_(model)
    assert parallel and set(parallel) == {threading.current_thread().name}
