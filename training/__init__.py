"""Offline command-line tools: training, evaluation, benchmarks, export and bag replay."""
