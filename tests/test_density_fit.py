"""benchmarks/density_fit.py end to end on the VISOR-layout fixture through the shipped int8 folder: a record
whose Markdown repeats the JSON's figures, and the model folder left alone without ``--write-model``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from benchmark_support import benchmark_module

REPO = Path(__file__).resolve().parents[1]


def folder_digest(folder: Path) -> str:
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sorted(folder.iterdir())
                                   if p.is_file())).hexdigest()


def test_the_record_is_written_as_json_and_markdown_and_the_model_is_untouched(tmp_path: Path) -> None:
    model = REPO / "models" / "default_int8"
    before = folder_digest(model)
    benchmark_module("density_fit").main(["--model", str(model), "--data", str(REPO / "tests/fixtures/visor_mini"),
                                          "--split", "val", "--frames", "30", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "density_fit.json").read_text())
    text = (tmp_path / "density_fit.md").read_text()
    assert report["written_to_model"] is False and folder_digest(model) == before
    assert report["frames"]["fit"] > 0 and report["frames"]["reference"] > 0
    for role, quantiles in report["distance_quantiles"].items():
        assert f"| {role} | " + " | ".join(str(v) for v in quantiles.values()) + " |" in text
        assert quantiles["50"] <= quantiles["90"] <= quantiles["99"]
