"""Deployment export (DESIGN §2): ONNX graphs of the segmenter and text encoder, with parity checks.

Names are imported lazily so that ``python -m actiseg_core.export.onnx_export`` does not import the module twice
(runpy's warning) and importing the package stays cheap until an export is actually run.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExportResult", "export_segmenter"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from actiseg_core.export import onnx_export

        return getattr(onnx_export, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
