"""winit: every weight-initialization scheme defined once, sampled natively by NumPy, PyTorch, TensorFlow and JAX."""

from typing import TYPE_CHECKING

from winit._api import BACKENDS, backend, init, plan
from winit._fans import LAYOUTS, fans
from winit._gains import calculate_gain, recommend
from winit._laws import TRUNCATED_NORMAL_STD_2SIGMA
from winit._registry import ALIASES, get, schemes
from winit._schemes import FAN_MODES, Plan, Scheme

if TYPE_CHECKING:
    from winit._probe import probe

__all__ = [
    "ALIASES",
    "BACKENDS",
    "FAN_MODES",
    "LAYOUTS",
    "TRUNCATED_NORMAL_STD_2SIGMA",
    "Plan",
    "Scheme",
    "backend",
    "calculate_gain",
    "fans",
    "get",
    "init",
    "plan",
    "probe",
    "recommend",
    "schemes",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``winit.probe`` loads the probe (and its nets) on first use, so ``import winit`` stays light."""
    if name == "probe":
        from winit._probe import probe

        return probe
    raise AttributeError(f"module 'winit' has no attribute {name!r}")
