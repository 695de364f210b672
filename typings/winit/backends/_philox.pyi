from backends._philox import *
