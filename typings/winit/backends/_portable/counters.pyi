from backends._portable.counters import *
