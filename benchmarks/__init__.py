"""`make bench`: the engine's speed against hand-written code, the naive design, and its own limits.

Run as `python -m benchmarks`; docs/performance.md explains each benchmark and the targets.
"""
