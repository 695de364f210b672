"""winit's benchmark suite: speed and memory against each framework's own initializers, side by side.

Run ``python -m benchmarks`` (full run, writes ``benchmarks/RESULTS.md`` and ``benchmarks/results.png``)
or ``python -m benchmarks --quick`` (tiny sizes, one repeat: a smoke run for CI). Every figure is a
ratio of two timings taken in the same process, interleaved, as medians after a warm-up. Each
section runs in its own subprocess so one framework's threads and allocator do not colour another's.
"""
