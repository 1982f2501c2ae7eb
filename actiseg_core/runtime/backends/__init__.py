"""Inference backends behind :class:`actiseg_core.runtime.Segmenter` (see ``base.Backend``).

Nothing is imported here: each backend module imports its own library (onnxruntime, tensorrt, torch) only when
that backend is chosen, so the default install needs none but onnxruntime.
"""
