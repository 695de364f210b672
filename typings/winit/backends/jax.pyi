from backends.jax import *
