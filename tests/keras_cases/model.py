"""One Keras backend's ``winit.keras.init_`` on a small transformer, run in a fresh process with KERAS_BACKEND set.

``python model.py DIR`` builds the model of :func:`build` (embedding, two pre-LN blocks of
MultiHeadAttention and a two-layer MLP, d = 32, 4 heads, final LayerNorm, head), initializes it with
``rng="portable"`` and seed 0 under the recipes below, and writes each variable (model.weights order)
to DIR/<recipe>.npz with the report rows to DIR/report.json. tests/test_keras_model.py compares them
with the same architecture in Flax nnx.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import keras  # after the environment above: TF reads it once, at import
import numpy as np

RECIPES = ("gpt2", "keras")


@keras.saving.register_keras_serializable("winit_tests")
class Block(keras.layers.Layer):  # type: ignore[misc]
    """Pre-LN block: LayerNorm, MultiHeadAttention, LayerNorm, Dense(d_ff), Dense(d), both residual."""

    def __init__(self, d: int = 32, h: int = 4, d_ff: int = 64, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ln1 = keras.layers.LayerNormalization()
        self.attn = keras.layers.MultiHeadAttention(h, d // h)
        self.ln2 = keras.layers.LayerNormalization()
        self.fc1 = keras.layers.Dense(d_ff, activation="gelu")
        self.fc2 = keras.layers.Dense(d)

    def call(self, x: Any) -> Any:
        y = self.ln1(x)
        x = x + self.attn(y, y)
        return x + self.fc2(self.fc1(self.ln2(x)))


def build(d: int = 32, h: int = 4, d_ff: int = 64, layers: int = 2, vocab: int = 64) -> keras.Model:
    """The functional model: Embedding, ``layers`` Blocks, LayerNorm, Dense head."""
    tokens = keras.Input((5,), dtype="int32")
    x = keras.layers.Embedding(vocab, d)(tokens)
    for _ in range(layers):
        x = Block(d, h, d_ff)(x)
    x = keras.layers.LayerNormalization()(x)
    return keras.Model(tokens, keras.layers.Dense(vocab)(x))


def nnx_names(model: keras.Model) -> dict[str, str]:
    """Each variable's path -> the dotted path of the same parameter in tests/test_flax_model.py's Transformer."""
    embedding, final_norm, head = model.layers[1], model.layers[-2], model.layers[-1]
    names = {
        embedding.embeddings.path: "embed.embedding",
        final_norm.gamma.path: "ln_f.scale",
        final_norm.beta.path: "ln_f.bias",
        head.kernel.path: "head.kernel",
        head.bias.path: "head.bias",
    }
    for index, block in enumerate(layer for layer in model.layers if isinstance(layer, Block)):
        attn = block.attn
        pairs = {"ln1": block.ln1, "ln2": block.ln2, "fc1": block.fc1, "fc2": block.fc2}
        pairs.update({"attn.query": attn._query_dense, "attn.key": attn._key_dense})
        pairs.update({"attn.value": attn._value_dense, "attn.out": attn._output_dense})
        for name, layer in pairs.items():
            for variable in layer.weights:
                flax_name = {"gamma": "scale", "beta": "bias"}.get(variable.name, variable.name)
                names[variable.path] = f"blocks.{index}.{name}.{flax_name}"
    return names


def main(folder: Path) -> None:
    import winit.keras as wk

    model = build()
    rows = []
    for recipe in RECIPES:
        _, report = wk.init_(model, recipe, seed=0, rng="portable")
        values = {f"w{i:03d}": np.asarray(keras.ops.convert_to_numpy(v)) for i, v in enumerate(model.weights)}
        np.savez(folder / f"{recipe}.npz", **values)
        rows = [{"name": r.name, "role": r.role, "shape": list(r.shape), "std": r.std} for r in report]
    paths = [v.path for v in model.weights]
    (folder / "report.json").write_text(json.dumps({"rows": rows, "paths": paths, "nnx": nnx_names(model)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
