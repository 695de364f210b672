from backends.numpy import *
