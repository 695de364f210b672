from backends._router import *
