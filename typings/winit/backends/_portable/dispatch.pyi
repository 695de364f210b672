from backends._portable.dispatch import *
