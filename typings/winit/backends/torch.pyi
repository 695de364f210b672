from backends.torch import *
