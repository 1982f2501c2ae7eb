"""Offline command-line tools: training, evaluation, export and bag replay."""
