"""The ``actiseg`` wheel runs inference on its own: built from what a fresh clone has, installed into a new venv
with only its declared requirements (``install_requires``, pinned by ``-c requirements.txt``), and used from outside
the repository. A package missing from the wheel, a runtime import not declared in setup.py, or torch leaking into
the inference path fails here. Needs the package registry (pip's cache makes it quick); skipped when it cannot be
reached.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "default_int8"
IMAGE = REPO / "tests" / "fixtures" / "visor_mini" / "JPEGImages_Sparse" / "val" / "00000004_P01_107_close_fridge" \
    / "frame_0000000954.jpg"
# pip's messages when the index cannot be reached at all (as opposed to a requirement it cannot satisfy).
UNREACHABLE = ("NewConnectionError", "Temporary failure in name resolution", "Name or service not known",
               "Network is unreachable", "Max retries exceeded", "ConnectTimeoutError")

# Run inside the new venv, from a folder outside the repository.
PROBE = r'''
import importlib.util
import json
import sys

import numpy as np
from PIL import Image

import actiseg_core.runtime
from actiseg_core.runtime import Segmenter

image = np.asarray(Image.open(sys.argv[2]).convert("RGB"))
segmenter = Segmenter.load(sys.argv[1], threads=1)
prediction = segmenter.predict(image, "open the fridge", ["fridge", "robot hand", "plate"])
print(json.dumps({
    "runtime_file": actiseg_core.runtime.__file__,
    "image": list(image.shape),
    "names": prediction.object_names,
    "label_map": [list(prediction.label_map.shape), str(prediction.label_map.dtype)],
    "labels": sorted(int(v) for v in np.unique(prediction.label_map)),
    "union_probability": [list(prediction.union_probability.shape), str(prediction.union_probability.dtype)],
    "object_probabilities": list(prediction.object_probabilities.shape),
    "positive_scores": [float(s) for s in prediction.positive_scores],
    "active": [bool(a) for a in prediction.active],
    "torch_importable": importlib.util.find_spec("torch") is not None,
    "torch_loaded": "torch" in sys.modules,
}))
'''


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH or venv of this process: the new venv must stand on its own."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _pip(python: Path, *args: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """pip in ``python``'s environment; skips the test when the package index cannot be reached."""
    done = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args], cwd=cwd,
                          env=_clean_env(), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 and any(marker in done.stdout + done.stderr for marker in UNREACHABLE):
        pytest.skip(f"package registry unreachable: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, f"pip {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _fresh_clone(target: Path) -> Path:
    """The files a clone of the current work has (tracked + untracked not ignored), less the model folders, which
    are no part of the wheel: the wheel is built from these, never from the developer's tree with its build/."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in listed:
        if name and not name.startswith("models/") and (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


def test_wheel_installs_alone_and_segments_without_torch(tmp_path: Path) -> None:
    if not (MODEL / "model.json").is_file():
        pytest.skip(f"no model folder at {MODEL}: run scripts/setup_env.sh")
    source = _fresh_clone(tmp_path / "src")
    wheels = tmp_path / "wheels"
    _pip(Path(sys.executable), "wheel", "--no-deps", "-q", str(source), "-w", str(wheels), cwd=tmp_path, timeout=300)
    (wheel,) = wheels.glob("actiseg-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for module in ("actiseg_core/runtime/__init__.py", "actiseg_core/runtime/backends/__init__.py",
                   "actiseg_core/runtime/backends/onnxruntime_backend.py", "actiseg_core/stream/__init__.py"):
        assert module in names, f"{module} is not in {wheel.name}"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_clean_env(), timeout=120)
    python = venv / "bin" / "python"
    _pip(python, "install", "-q", "-c", str(REPO / "requirements.txt"), str(wheel), cwd=tmp_path, timeout=600)

    work = tmp_path / "elsewhere"
    work.mkdir()
    done = subprocess.run([str(python), "-c", PROBE, str(MODEL), str(IMAGE)], cwd=work, env=_clean_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(report["runtime_file"]).is_relative_to(venv), report["runtime_file"]  # the wheel, not the repo
    height, width, _ = report["image"]
    assert report["names"] == ["fridge", "robot hand", "plate"]
    assert report["label_map"] == [[height, width], "uint8"]
    assert report["union_probability"] == [[height, width], "float32"]
    assert set(report["labels"]) <= {0, 1, 2, 3}
    assert report["object_probabilities"][0] == 3 and len(report["object_probabilities"]) == 3
    assert len(report["positive_scores"]) == len(report["active"]) == 3
    assert all(0.0 <= score <= 1.0 for score in report["positive_scores"])
    assert not report["torch_importable"] and not report["torch_loaded"], "torch is installed or imported"
