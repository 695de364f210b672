from backends._portable.engine import *
