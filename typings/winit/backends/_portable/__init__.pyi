from backends._portable import *
