from backends._common import *
