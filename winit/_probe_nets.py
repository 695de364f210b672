"""The ``winit probe`` MLP on each backend: weights from ``winit.init``, one forward/backward, SGD steps.

The network is ``depth`` hidden layers ``h_l = act(h_{l-1} W_l + b_l)`` of ``width`` units and a
linear head to ``classes`` logits, trained on softmax cross-entropy (mean over the batch). Every
weight, head included, is drawn from the probed scheme with ``winit.init`` (layer ``l`` uses seed
``seed + l``, so two schemes of the same family share their underlying draws); biases start at 0.
NumPy backpropagates by hand; torch, JAX and TensorFlow use their own autodiff. Results come back
as NumPy arrays so one statistics module judges every backend.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np

from winit._api import init
from winit._probe_cast import ACTIVATIONS, PROBE_BACKENDS
from winit._schemes import Scheme

#: torch's and JAX's default; TensorFlow's tf.nn.leaky_relu defaults to 0.2, so it is passed explicitly.
LEAKY_SLOPE: Final = 0.01
SELU_ALPHA: Final = 1.6732632423543772848170429916717
SELU_SCALE: Final = 1.0507009873554804934193349852946


@dataclass(frozen=True)
class Pass:
    """One forward/backward in NumPy: the loss, each hidden layer's input and output, each weight's gradient."""

    loss: float
    inputs: tuple[np.ndarray, ...]
    outputs: tuple[np.ndarray, ...]
    weight_grads: tuple[np.ndarray, ...]


class Net(Protocol):
    """An MLP held in one backend's arrays."""

    def run(self, x: np.ndarray, y: np.ndarray) -> Pass: ...

    def sgd_step(self, x: np.ndarray, y: np.ndarray, lr: float) -> float: ...

    def loss(self, x: np.ndarray, y: np.ndarray) -> float: ...


def synthetic_task(n: int, in_features: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(0, 1) of shape (n, in_features) and labels argmax(x·T), T a fixed N(0, 1) teacher (float32, int64)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, in_features), dtype=np.float32)
    teacher = rng.standard_normal((in_features, classes))
    labels = np.argmax(x.astype(np.float64) @ teacher, axis=1).astype(np.int64)
    return x, labels


def build(
    backend: str,
    scheme: Scheme,
    *,
    activation: str,
    depth: int,
    width: int,
    in_features: int,
    classes: int,
    seed: int,
) -> Net:
    """A ``backend`` MLP whose every weight is drawn from ``scheme`` by ``winit.init`` (biases 0)."""
    sizes = [in_features] + [width] * depth + [classes]
    # (fan_in, fan_out) per weight; each backend's default layout orders the shape its own way.
    pairs = list(itertools.pairwise(sizes))
    if backend == "numpy":
        weights = [init(scheme, (i, o), backend="numpy", seed=seed + k) for k, (i, o) in enumerate(pairs)]
        return NumpyNet(weights, [np.zeros(o, np.float32) for _, o in pairs], activation)
    if backend == "torch":
        import torch

        weights = [init(scheme, (o, i), backend="torch", seed=seed + k) for k, (i, o) in enumerate(pairs)]
        return TorchNet(weights, [torch.zeros(o) for _, o in pairs], activation)
    if backend == "jax":
        import jax.numpy as jnp

        weights = [init(scheme, (i, o), backend="jax", seed=seed + k) for k, (i, o) in enumerate(pairs)]
        return JaxNet(weights, [jnp.zeros(o, jnp.float32) for _, o in pairs], activation)
    if backend == "tensorflow":
        import tensorflow as tf

        weights = [
            init(scheme, (i, o), backend="tensorflow", seed=seed + k) for k, (i, o) in enumerate(pairs)
        ]
        return TensorflowNet(weights, [tf.zeros(o, tf.float32) for _, o in pairs], activation)
    raise ValueError(f"unknown probe backend {backend!r}; accepted: {', '.join(PROBE_BACKENDS)}")


# -- NumPy: forward and backward by hand ---------------------------------------------------------------
def _erf(x: np.ndarray) -> np.ndarray:
    """erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32's resolution near 1)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    result: np.ndarray = sign * (1.0 - poly * np.exp(-a * a))
    return result


ArrayFn = Callable[[np.ndarray], np.ndarray]


def _numpy_activation(name: str) -> tuple[ArrayFn, ArrayFn]:
    """(f, f') for activation ``name``, both taking the pre-activation z."""
    if name == "relu":
        return (lambda z: np.maximum(z, 0)), (lambda z: (z > 0).astype(z.dtype))
    if name == "leaky_relu":
        return (
            (lambda z: np.where(z > 0, z, LEAKY_SLOPE * z).astype(z.dtype)),
            (lambda z: np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype)),
        )
    if name == "tanh":
        return np.tanh, (lambda z: (1.0 - np.tanh(z) ** 2).astype(z.dtype))

    def sigmoid(z: np.ndarray) -> np.ndarray:
        # exp(-|z|) never overflows; the two branches are the same function
        e = np.exp(-np.abs(z))
        result: np.ndarray = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype)
        return result

    if name == "sigmoid":
        return sigmoid, (lambda z: (sigmoid(z) * (1.0 - sigmoid(z))).astype(z.dtype))
    if name == "selu":

        def selu(z: np.ndarray) -> np.ndarray:
            negative = SELU_ALPHA * np.expm1(np.minimum(z, 0))
            return (SELU_SCALE * np.where(z > 0, z, negative)).astype(z.dtype)

        def selu_grad(z: np.ndarray) -> np.ndarray:
            negative = SELU_ALPHA * np.exp(np.minimum(z, 0))
            return (SELU_SCALE * np.where(z > 0, 1.0, negative)).astype(z.dtype)

        return selu, selu_grad
    if name == "gelu":
        # exact GELU z·Φ(z) (torch's default, jax/tf with approximate=False); d/dz = Φ(z) + z·φ(z)
        def cdf(z: np.ndarray) -> np.ndarray:
            return 0.5 * (1.0 + _erf(z / math.sqrt(2.0)))

        return (
            (lambda z: (z * cdf(z)).astype(z.dtype)),
            (lambda z: (cdf(z) + z * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)).astype(z.dtype)),
        )
    raise ValueError(f"unknown activation {name!r}; accepted: {', '.join(ACTIVATIONS)}")


def _softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """(mean cross-entropy, d loss / d logits) for integer ``labels``."""
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    rows = np.arange(len(labels))
    loss = float(-np.mean(log_probs[rows, labels]))
    grad = np.exp(log_probs)
    grad[rows, labels] -= 1.0
    return loss, (grad / len(labels)).astype(logits.dtype)


class NumpyNet:
    """Weights (in, out) as NumPy arrays; gradients by explicit backpropagation."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray], activation: str) -> None:
        self.weights, self.biases = weights, biases
        self.act, self.act_grad = _numpy_activation(activation)

    def _forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], Any]:
        """(inputs, pre-activations, outputs) of each hidden layer and the logits."""
        inputs, pre, outputs = [], [], []
        h = x
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            inputs.append(h)
            z = h @ w + b
            pre.append(z)
            h = self.act(z)
            outputs.append(h)
        return inputs, pre, outputs, h @ self.weights[-1] + self.biases[-1]

    def _backward(
        self, x: np.ndarray, y: np.ndarray
    ) -> tuple[float, list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        with np.errstate(all="ignore"):  # an exploding init overflows on purpose; the stats report it
            inputs, pre, outputs, logits = self._forward(x)
            loss, delta = _softmax_cross_entropy(logits, y)
            w_grads = [outputs[-1].T @ delta]
            b_grads = [delta.sum(axis=0)]
            delta = delta @ self.weights[-1].T
            for layer in reversed(range(len(pre))):
                delta = delta * self.act_grad(pre[layer])
                w_grads.append(inputs[layer].T @ delta)
                b_grads.append(delta.sum(axis=0))
                delta = delta @ self.weights[layer].T
        return loss, inputs, outputs, w_grads[::-1], b_grads[::-1]

    def run(self, x: np.ndarray, y: np.ndarray) -> Pass:
        loss, inputs, outputs, w_grads, _ = self._backward(x, y)
        return Pass(loss, tuple(inputs), tuple(outputs), tuple(w_grads[:-1]))

    def sgd_step(self, x: np.ndarray, y: np.ndarray, lr: float) -> float:
        loss, _, _, w_grads, b_grads = self._backward(x, y)
        with np.errstate(all="ignore"):
            self.weights = [w - lr * g for w, g in zip(self.weights, w_grads, strict=True)]
            self.biases = [b - lr * g for b, g in zip(self.biases, b_grads, strict=True)]
        return loss

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            return _softmax_cross_entropy(self._forward(x)[3], y)[0]


# -- torch: autograd -------------------------------------------------------------------------------------
class TorchNet:
    """Weights (out, in) as torch tensors (torch layout); gradients by ``torch.autograd.grad``."""

    def __init__(self, weights: list[Any], biases: list[Any], activation: str) -> None:
        import torch.nn.functional as F  # noqa: N812 - torch's own spelling

        self.weights = [w.requires_grad_(True) for w in weights]
        self.biases = [b.requires_grad_(True) for b in biases]
        table: dict[str, Callable[[Any], Any]] = {
            "relu": F.relu,
            "leaky_relu": functools.partial(F.leaky_relu, negative_slope=LEAKY_SLOPE),
            "tanh": F.tanh,
            "sigmoid": F.sigmoid,
            "selu": F.selu,
            "gelu": F.gelu,
        }
        self.act = table[activation]

    def _loss(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, list[Any], list[Any]]:
        import torch
        import torch.nn.functional as F  # noqa: N812

        h = torch.from_numpy(x)
        inputs, outputs = [], []
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            inputs.append(h)
            h = self.act(F.linear(h, w, b))
            outputs.append(h)
        logits = F.linear(h, self.weights[-1], self.biases[-1])
        return F.cross_entropy(logits, torch.from_numpy(y)), inputs, outputs

    def run(self, x: np.ndarray, y: np.ndarray) -> Pass:
        import torch

        loss, inputs, outputs = self._loss(x, y)
        grads = torch.autograd.grad(loss, self.weights[:-1])
        return Pass(
            float(loss.detach()),
            tuple(t.detach().numpy() for t in inputs),
            tuple(t.detach().numpy() for t in outputs),
            tuple(g.T.numpy() for g in grads),  # (out, in) → (in, out), the orientation every backend reports
        )

    def sgd_step(self, x: np.ndarray, y: np.ndarray, lr: float) -> float:
        import torch

        loss, _, _ = self._loss(x, y)
        params = [*self.weights, *self.biases]
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for param, grad in zip(params, grads, strict=True):
                param -= lr * grad
        return float(loss.detach())

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        import torch

        with torch.no_grad():
            return float(self._loss(x, y)[0])


# -- JAX: jax.value_and_grad over a pure function -----------------------------------------------------------
@functools.cache
def _jax_step(activation: str) -> Callable[..., Any]:
    """jit(value_and_grad) of the MLP loss for ``activation`` (traced once per activation and shape)."""
    import jax
    import jax.numpy as jnp

    table: dict[str, Callable[[Any], Any]] = {
        "relu": jax.nn.relu,
        "leaky_relu": functools.partial(jax.nn.leaky_relu, negative_slope=LEAKY_SLOPE),
        "tanh": jnp.tanh,
        "sigmoid": jax.nn.sigmoid,
        "selu": jax.nn.selu,
        "gelu": functools.partial(jax.nn.gelu, approximate=False),  # jax defaults to the tanh approximation
    }
    act = table[activation]

    def loss_fn(params: Any, x: Any, y: Any) -> tuple[Any, tuple[list[Any], list[Any]]]:
        weights, biases = params
        h = x
        inputs, outputs = [], []
        for w, b in zip(weights[:-1], biases[:-1], strict=True):
            inputs.append(h)
            h = act(h @ w + b)
            outputs.append(h)
        logits = h @ weights[-1] + biases[-1]
        log_probs = jax.nn.log_softmax(logits)
        loss = -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))
        return loss, (inputs, outputs)

    return jax.jit(jax.value_and_grad(loss_fn, has_aux=True))


class JaxNet:
    """Weights (in, out) as JAX arrays (flax layout); gradients by ``jax.value_and_grad``."""

    def __init__(self, weights: list[Any], biases: list[Any], activation: str) -> None:
        self.params = (list(weights), list(biases))
        self.step = _jax_step(activation)

    def run(self, x: np.ndarray, y: np.ndarray) -> Pass:
        (loss, (inputs, outputs)), (w_grads, _) = self.step(self.params, x, y)
        return Pass(
            float(loss),
            tuple(np.asarray(t) for t in inputs),
            tuple(np.asarray(t) for t in outputs),
            tuple(np.asarray(g) for g in w_grads[:-1]),
        )

    def sgd_step(self, x: np.ndarray, y: np.ndarray, lr: float) -> float:
        import jax

        (loss, _), grads = self.step(self.params, x, y)
        self.params = jax.tree_util.tree_map(lambda p, g: p - lr * g, self.params, grads)
        return float(loss)

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self.step(self.params, x, y)[0][0])


# -- TensorFlow: tf.GradientTape -----------------------------------------------------------------------------
class TensorflowNet:
    """Weights (in, out) as TensorFlow tensors (keras layout); gradients by ``tf.GradientTape``."""

    def __init__(self, weights: list[Any], biases: list[Any], activation: str) -> None:
        import tensorflow as tf

        self.weights, self.biases = list(weights), list(biases)
        self.act: Callable[[Any], Any] = {
            "relu": tf.nn.relu,
            "leaky_relu": functools.partial(tf.nn.leaky_relu, alpha=LEAKY_SLOPE),
            "tanh": tf.math.tanh,
            "sigmoid": tf.math.sigmoid,
            "selu": tf.nn.selu,
            "gelu": functools.partial(tf.nn.gelu, approximate=False),
        }[activation]

    def _tape(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any, list[Any], list[Any]]:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch([*self.weights, *self.biases])
            h = tf.convert_to_tensor(x)
            inputs, outputs = [], []
            for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
                inputs.append(h)
                h = self.act(h @ w + b)
                outputs.append(h)
            logits = h @ self.weights[-1] + self.biases[-1]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        return loss, tape, inputs, outputs

    def run(self, x: np.ndarray, y: np.ndarray) -> Pass:
        loss, tape, inputs, outputs = self._tape(x, y)
        grads = tape.gradient(loss, self.weights[:-1])
        return Pass(
            float(loss),
            tuple(t.numpy() for t in inputs),
            tuple(t.numpy() for t in outputs),
            tuple(g.numpy() for g in grads),
        )

    def sgd_step(self, x: np.ndarray, y: np.ndarray, lr: float) -> float:
        loss, tape, _, _ = self._tape(x, y)
        grads = tape.gradient(loss, [*self.weights, *self.biases])
        params = [p - lr * g for p, g in zip([*self.weights, *self.biases], grads, strict=True)]
        self.weights, self.biases = params[: len(self.weights)], params[len(self.weights) :]
        return float(loss)

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self._tape(x, y)[0])
