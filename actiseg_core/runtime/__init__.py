"""Inference without training code: load a model folder, pick a backend, predict (DESIGN §2).

``Segmenter.load(model_dir, backend="onnxruntime")`` -> ``predict(image, narration, object_names)`` -> Prediction.
Backends: ``onnxruntime`` (CPU, the default), ``onnxruntime-cuda``, ``onnxruntime-tensorrt``, ``tensorrt`` (native,
cached engines) and ``torch`` (debugging). Only the torch backend imports torch.
"""

from actiseg_core.runtime.backends.base import BackendError
from actiseg_core.runtime.model_dir import ModelDirError, read_model_dir
from actiseg_core.runtime.segmenter import BACKENDS, InputError, Prediction, Segmenter

__all__ = ["BACKENDS", "BackendError", "InputError", "ModelDirError", "Prediction", "Segmenter", "read_model_dir"]
