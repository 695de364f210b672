from backends._portable.bits import *
