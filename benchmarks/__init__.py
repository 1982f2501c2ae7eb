"""Measurements of ActiSeg and the ActiSeg-NL benchmark; ``results/`` holds what they measured.

The scripts in this folder run as files (``python benchmarks/latency.py``, with this folder on ``sys.path`` for
``provenance``); the ActiSeg-NL protocol runner and its report are the package :mod:`benchmarks.nl`.
"""
