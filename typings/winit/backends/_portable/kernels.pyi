from backends._portable.kernels import *
