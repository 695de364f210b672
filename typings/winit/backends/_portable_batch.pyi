from backends._portable_batch import *
