from backends._portable.args import *
