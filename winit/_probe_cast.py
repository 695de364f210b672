"""What ``winit probe`` can run, without NumPy: activations, backends and the default cast of schemes.

The command line names these in its help; the probe itself (NumPy and the nets) loads only when run.
"""

from __future__ import annotations

from typing import Final

from winit._registry import get
from winit._schemes import Scheme

ACTIVATIONS: Final[tuple[str, ...]] = ("relu", "leaky_relu", "tanh", "sigmoid", "selu", "gelu")
PROBE_BACKENDS: Final[tuple[str, ...]] = ("numpy", "torch", "jax", "tensorflow")

#: the notes' cast, in the order the table and the figure show them.
DEFAULT_SCHEMES: Final[dict[str, Scheme]] = {
    "zeros": get("zeros"),
    "constant(0.5)": get("constant").with_(value=0.5),
    "N(0,0.01)": get("random_normal").with_(stddev=0.01),
    "N(0,1)": get("random_normal").with_(stddev=1.0),
    "glorot": get("glorot_normal"),
    "he": get("he_normal"),
    "lecun": get("lecun_normal"),
    "orthogonal": get("orthogonal"),
}
