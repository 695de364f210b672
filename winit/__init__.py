"""winit: every weight-initialization scheme defined once, sampled natively by NumPy, PyTorch, TensorFlow and JAX."""

from typing import TYPE_CHECKING

from winit._api import BACKENDS, backend, init, plan
from winit._fans import LAYOUTS, fans
from winit._gains import calculate_gain, recommend
from winit._laws import TRUNCATED_NORMAL_STD_2SIGMA
from winit._recipe_catalogue import RECIPES
from winit._recipes import Recipe, RoleLaw
from winit._registry import ALIASES, get, schemes
from winit._roles import KEEP, Role
from winit._schemes import FAN_MODES, Plan, Scheme
from winit._validate import suggest

if TYPE_CHECKING:
    from winit._probe import probe

__all__ = [
    "ALIASES",
    "BACKENDS",
    "FAN_MODES",
    "KEEP",
    "LAYOUTS",
    "TRUNCATED_NORMAL_STD_2SIGMA",
    "Plan",
    "Recipe",
    "Role",
    "RoleLaw",
    "Scheme",
    "backend",
    "calculate_gain",
    "fans",
    "get",
    "init",
    "plan",
    "probe",
    "recipe",
    "recipes",
    "recommend",
    "schemes",
]
__version__ = "0.1.0"


def recipes() -> list[str]:
    """Sorted names of the built-in recipes (``winit.recipe(name).explain()`` shows each).

    Examples:
        >>> import winit
        >>> {"gpt2", "mup", "t5", "torch"} <= set(winit.recipes())
        True
    """
    return sorted(RECIPES)


def recipe(name: str | Recipe) -> Recipe:
    """The recipe called ``name`` (a :class:`Recipe` passes through); unknown names list the known ones.

    Args:
        name: a built-in recipe's name (``winit.recipes()``; case-insensitive, ``-`` reads as ``_``) or a Recipe.

    Raises:
        ValueError: an unknown name (the message lists the recipes and suggests the closest).
        TypeError: neither a string nor a Recipe.

    Examples:
        >>> import winit
        >>> gpt2 = winit.recipe("GPT2")
        >>> gpt2.name, gpt2.constants
        ('gpt2', {'sigma0': 0.02})
        >>> winit.recipe(gpt2) is gpt2
        True

    References:
        Each recipe's ``sources`` name the code or paper it reproduces (``winit.recipe("mup").sources``).
    """
    if isinstance(name, Recipe):
        return name
    if not isinstance(name, str):
        raise TypeError(f"recipe must be a name or a winit.Recipe, got {name!r}")
    key = name.strip().lower().replace("-", "_")
    if key not in RECIPES:
        raise ValueError(
            f"unknown recipe {name!r}; known recipes: {', '.join(recipes())}.{suggest(key, RECIPES)}"
        )
    return RECIPES[key]


def __getattr__(name: str) -> object:
    """``winit.probe`` loads the probe (and its nets) on first use, so ``import winit`` stays light."""
    if name == "probe":
        from winit._probe import probe

        return probe
    raise AttributeError(f"module 'winit' has no attribute {name!r}")
