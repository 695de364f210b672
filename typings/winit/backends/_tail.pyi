from backends._tail import *
