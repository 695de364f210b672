"""nox sessions: per-backend test runs, all backends, lint, typecheck and benchmarks.

Every install goes through constraints.txt, which pins torch to the CPU build on the development
machines (any other torch version pulls a multi-GB CUDA build).
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "tests"]

CONSTRAINTS = ("-c", "constraints.txt")
#: backend session -> extras it installs; each framework's high-level API rides along with it
#: (Keras with TensorFlow, Flax with JAX) so their comparison tests run there too.
BACKEND_EXTRAS: dict[str, tuple[str, ...]] = {
    "numpy": (),
    "torch": ("torch",),
    "tensorflow": ("tensorflow", "keras"),
    "jax": ("jax", "flax"),
}
QUIET_TF = {"TF_CPP_MIN_LOG_LEVEL": "3"}


def _install(session: nox.Session, *extras: str) -> None:
    session.install(*CONSTRAINTS, "-e", f".[{','.join(extras)}]")


def _pytest(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", *session.posargs, env=QUIET_TF)


def _backend_session(backend: str) -> None:
    extras = (*BACKEND_EXTRAS[backend], "test")

    @nox.session(name=f"tests-{backend}")
    def tests_backend(session: nox.Session) -> None:
        _install(session, *extras)
        _pytest(session)

    tests_backend.__doc__ = (
        f"pytest with only {backend} installed ({', '.join(extras)}); other backends skip."
    )


for _backend in BACKEND_EXTRAS:
    _backend_session(_backend)


@nox.session
def tests(session: nox.Session) -> None:
    """pytest with every backend installed (the same install as README's test command)."""
    _install(session, "all", "test")
    _pytest(session)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the repository."""
    session.install(*CONSTRAINTS, "ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on winit/ and backends/ (files and overrides in pyproject.toml)."""
    _install(session, "all", "test")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """The API reference site, built strictly (a broken reference fails) into site/ (mkdocs.yml)."""
    _install(session, "docs")
    session.run("mkdocs", "build", "--strict", "-d", "site", *session.posargs)


HAS_BENCHMARKS = (Path(__file__).parent / "benchmarks" / "__main__.py").is_file()


# Without benchmarks there is nothing to install, so the skip needs no virtualenv.
@nox.session(venv_backend=None if HAS_BENCHMARKS else "none")
def bench(session: nox.Session) -> None:
    """python -m benchmarks, skipped while the benchmarks package has no __main__."""
    if not HAS_BENCHMARKS:
        session.skip("benchmarks/__main__.py does not exist yet; nothing to run")
    _install(session, "all", "test")
    session.run("python", "-m", "benchmarks", *session.posargs, env=QUIET_TF)
