from backends.tensorflow import *
