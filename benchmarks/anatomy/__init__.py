"""The training step's anatomy: the first step, memory by stage, time by part.

Run through `benchmarks/step_anatomy.py`.
"""
