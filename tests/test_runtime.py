"""actiseg_core.runtime: the Segmenter API on a real exported model, its backends and its errors.

The model is the session's tiny export (``tests/conftest.py``): random weights, so the tests check agreement between
paths (onnxruntime vs torch, runtime vs evaluation, graph resize vs training resize), not accuracy.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from actiseg_core.errors import ActiSegError
from actiseg_core.metrics import predicted_label_map
from actiseg_core.runtime import BackendError, InputError, ModelDirError, Segmenter, read_model_dir
from actiseg_core.runtime.engine_cache import EngineCache, EngineKey
from actiseg_core.runtime.segmenter import MAX_QUERIES, check_image
from training.data import resize_image
from training.inference import upsample_probabilities

NAMES = ["cup", "knife", "robot hand"]
NARRATION = "Cut the onion with the knife"


@pytest.fixture(scope="module")
def model_dir(tiny_export) -> Path:
    return tiny_export.out_dir


@pytest.fixture(scope="module")
def segmenter(model_dir) -> Segmenter:
    # Every object active, so the label map is not trivially empty with random weights.
    return Segmenter.load(model_dir, threads=1, positive_threshold=0.0)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)


def test_prediction_shapes_types_and_timings(segmenter, image) -> None:
    prediction = segmenter.predict(image, NARRATION, NAMES)
    height, width = segmenter.input_size
    assert prediction.object_names == NAMES
    assert prediction.label_map.shape == (50, 70) and prediction.label_map.dtype == np.uint8
    assert prediction.union_probability.shape == (50, 70) and prediction.union_probability.dtype == np.float32
    assert prediction.object_probabilities.shape == (3, height, width)
    assert prediction.positive_scores.shape == (3,) and prediction.active.all()
    assert set(np.unique(prediction.label_map)) <= {0, 1, 2, 3}
    assert prediction.union_mask.sum() == sum(prediction.object_mask(k).sum() for k in range(3)) > 0
    assert prediction.active_names == NAMES
    assert set(prediction.timings_ms) == {"text", "preprocess", "model", "postprocess", "total"}
    assert prediction.timings_ms["total"] >= prediction.timings_ms["model"] > 0


@pytest.mark.parametrize("active_count", [3, 2, 1])
def test_label_map_equals_the_evaluation_path(model_dir, segmenter, image, active_count) -> None:
    """Postprocess graph == training.inference's upsample + metrics.predicted_label_map on the same logits, with
    all, some or one of the objects active (the graph upsamples only the active ones)."""
    (images,) = segmenter.preprocess.run(None, {"image": image})
    mask_logits, positive_logits, _ = segmenter.backend.run(images, segmenter.prompt_embeddings(NARRATION, NAMES))
    scores = 1 / (1 + np.exp(-positive_logits))
    ranked = np.sort(scores)[::-1]
    threshold = 0.0 if active_count == len(NAMES) else float(ranked[active_count - 1:active_count + 1].mean())
    prediction = Segmenter.load(model_dir, threads=1, positive_threshold=threshold).predict(image, NARRATION, NAMES)
    assert prediction.active.sum() == active_count
    probabilities = upsample_probabilities(mask_logits, image.shape[:2])
    expected = predicted_label_map(probabilities, [1, 2, 3], scores, 0.5, threshold)
    active_max = probabilities[prediction.active].max(axis=0)
    ambiguous = np.abs(active_max - 0.5) < 1e-5  # float noise may flip a pixel at the threshold
    assert np.array_equal(prediction.label_map[~ambiguous], expected[~ambiguous])
    assert set(np.unique(prediction.label_map)) <= {0, *(np.flatnonzero(prediction.active) + 1)}
    np.testing.assert_allclose(prediction.union_probability, active_max, atol=1e-5)
    np.testing.assert_allclose(prediction.positive_scores, scores, atol=1e-6)


def test_inactive_objects_are_dropped_like_actionvos(model_dir, image) -> None:
    strict = Segmenter.load(model_dir, threads=1, positive_threshold=1.01)  # nothing can be active
    prediction = strict.predict(image, NARRATION, NAMES)
    assert not prediction.active.any() and not prediction.label_map.any()
    assert not prediction.union_probability.any() and prediction.active_names == []


def test_preprocess_graph_matches_training_resize(segmenter) -> None:
    """On camera-like content (smooth shading, hard edges, mild sensor noise) as in ActiSeg-Sim frames."""
    y, x = np.mgrid[0:120, 0:200]
    frame = np.stack([x, y * 2, (x + y) // 2], axis=-1).astype(np.float64)
    frame[30:80, 40:150] = (250, 20, 20)  # edges, where resamplers differ most
    frame += np.random.default_rng(1).normal(0, 4, frame.shape)
    frame = np.clip(frame, 0, 255).astype(np.uint8)
    (images,) = segmenter.preprocess.run(None, {"image": frame})
    expected = resize_image(frame, segmenter.input_size).astype(np.float32).transpose(2, 0, 1)[None] / 255
    difference = np.abs(images - expected) * 255
    assert images.shape == expected.shape and difference.mean() < 1.0 and difference.max() < 6.0


def test_onnxruntime_and_torch_backends_agree(model_dir, segmenter, image) -> None:
    reference = Segmenter.load(model_dir, backend="torch", threads=1, positive_threshold=0.0)
    ours, theirs = segmenter.predict(image, NARRATION, NAMES), reference.predict(image, NARRATION, NAMES)
    assert np.abs(ours.union_probability - theirs.union_probability).max() <= 1e-4
    np.testing.assert_allclose(ours.positive_scores, theirs.positive_scores, atol=1e-5)
    assert (ours.label_map != theirs.label_map).mean() < 1e-3
    assert reference.backend.name == "torch" and "eager" in reference.backend.description


def test_runtime_runs_without_torch(model_dir) -> None:
    """DESIGN §2: load + predict with torch imports blocked; torch is never imported."""
    script = f"""
import sys
sys.modules["torch"] = None
import numpy as np
from actiseg_core.runtime import Segmenter
segmenter = Segmenter.load({str(model_dir)!r}, threads=1)
prediction = segmenter.predict(np.zeros((48, 64, 3), np.uint8), "take cup", ["cup", "gripper"])
assert prediction.label_map.shape == (48, 64)
print("ok", segmenter.backend.description)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("ok onnxruntime"), done.stderr


def test_prompt_embeddings_are_cached_per_prompt(model_dir, image) -> None:
    segmenter = Segmenter.load(model_dir, threads=1)
    segmenter.predict(image, NARRATION, NAMES)
    assert (segmenter.text.misses, segmenter.text.hits) == (3, 0)
    segmenter.predict(image, "  cut THE onion with the knife ", NAMES)  # same prompts once normalised
    assert (segmenter.text.misses, segmenter.text.hits) == (3, 3)
    segmenter.predict(image, "take cup", NAMES[:2])
    assert (segmenter.text.misses, segmenter.text.hits) == (5, 3)


def _edited_copy(model_dir: Path, folder: Path, **contract: object) -> Path:
    shutil.copytree(model_dir, folder)
    metadata = json.loads((folder / "model.json").read_text())
    metadata["contract"].update(contract)
    (folder / "model.json").write_text(json.dumps(metadata))
    return folder


def test_thresholds_come_from_the_model_folder_unless_overridden(model_dir, tmp_path, image) -> None:
    folder = _edited_copy(model_dir, tmp_path / "strict", pixel_threshold=0.7, positive_threshold=0.9)
    segmenter = Segmenter.load(folder, threads=1)
    assert (segmenter.pixel_threshold, segmenter.positive_threshold) == (0.7, 0.9)
    prediction = segmenter.predict(image, NARRATION, NAMES)
    np.testing.assert_array_equal(prediction.active, prediction.positive_scores >= 0.9)
    assert Segmenter.load(folder, threads=1, positive_threshold=0.0).positive_threshold == 0.0


def test_prompts_follow_the_model_folders_template(model_dir, tmp_path) -> None:
    """A model trained with another template is prompted with it, not with the ActionVOS default."""
    folder = _edited_copy(model_dir, tmp_path / "template", prompt_template="the {object} while {narration}")
    custom, default = Segmenter.load(folder, threads=1), Segmenter.load(model_dir, threads=1)
    embedded = custom.prompt_embeddings("Take  Cup", ["Cup"])
    np.testing.assert_allclose(embedded, default.text.embed(["the cup while take cup"]), atol=1e-6)
    assert np.abs(embedded - default.prompt_embeddings("take cup", ["cup"])).max() > 1e-3


def test_a_name_embedding_folder_queries_with_prompt_and_name(model_dir, tmp_path) -> None:
    """With ``name_embedding`` each query's text input is [prompt embedding, name embedding]; folders made before the
    field read as without it."""
    folder = _edited_copy(model_dir, tmp_path / "named", name_embedding=True)
    named, default = Segmenter.load(folder, threads=1), Segmenter.load(model_dir, threads=1)
    assert default.contract.name_embedding is False and read_model_dir(folder).text_dim == 2 * default.text.dim
    embedded = named.prompt_embeddings("Take  Cup", ["Cup", "robot hand"])
    expected = np.concatenate([default.prompt_embeddings("take cup", ["cup", "robot hand"]),
                               default.text.embed(["cup", "robot hand"])], axis=1)
    np.testing.assert_allclose(embedded, expected, atol=1e-6)


def test_a_checkpoint_runs_through_the_torch_backend_like_its_folder(tiny_checkpoint, model_dir, image) -> None:
    from actiseg_core.export.in_memory import checkpoint_segmenter

    from_checkpoint = checkpoint_segmenter(tiny_checkpoint, threads=1)
    folder = Segmenter.load(model_dir, backend="torch", threads=1)
    assert from_checkpoint.contract.input_size == folder.contract.input_size
    assert from_checkpoint.backend.name == "torch" and from_checkpoint.model_dir is None
    ours, theirs = from_checkpoint.predict(image, NARRATION, NAMES), folder.predict(image, NARRATION, NAMES)
    np.testing.assert_allclose(ours.positive_scores, theirs.positive_scores, atol=1e-6)
    np.testing.assert_array_equal(ours.label_map, theirs.label_map)


def test_fast_int8_instructions_are_read_from_cpuinfo() -> None:
    from actiseg_core.runtime.cpu import cpu_flags, fast_int8_flag

    epyc = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n\nprocessor\t: 1\n"
    assert cpu_flags(epyc) == {"fpu", "sse", "avx2", "avx512f", "avx512_vnni"}
    assert fast_int8_flag(cpu_flags(epyc)) == "avx512_vnni"
    assert fast_int8_flag(cpu_flags("flags\t: fpu sse avx2 fma\n")) is None  # AVX2 alone: no fast int8
    assert fast_int8_flag(cpu_flags("processor\t: 0\nFeatures\t: fp asimd asimddp\n")) == "asimddp"  # ARM
    assert cpu_flags("") == frozenset() and fast_int8_flag(frozenset({"amx_int8", "avx512_vnni"})) == "amx_int8"


def test_no_candidates_gives_an_empty_prediction_without_running_the_model(segmenter, image) -> None:
    prediction = segmenter.predict(image, NARRATION, [])
    assert prediction.label_map.shape == (50, 70) and not prediction.label_map.any()
    assert prediction.positive_scores.shape == (0,) and "model" not in prediction.timings_ms


@pytest.mark.parametrize(("bad_image", "message"), [
    (np.zeros((10, 10, 3), np.float32), "uint8"),
    (np.zeros((10, 10), np.uint8), "shape"),
    (np.zeros((10, 10, 4), np.uint8), "shape"),
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    ([[0, 0, 0]], "numpy array"),
])
def test_bad_images_are_one_line_input_errors(segmenter, bad_image, message) -> None:
    with pytest.raises(InputError, match=message) as error:
        segmenter.predict(bad_image, NARRATION, NAMES)
    assert "\n" not in str(error.value)


def test_oversized_image_is_rejected_before_any_work() -> None:
    with pytest.raises(InputError, match="exceeds the 100 pixel limit"):
        check_image(np.zeros((11, 10, 3), np.uint8), max_pixels=100)


@pytest.mark.parametrize(("narration", "names", "message"), [
    ("", NAMES, "narration is empty"),
    ("   ", NAMES, "narration is empty"),
    (b"take cup", NAMES, "narration must be text"),
    ("x" * 1001, NAMES, "1001 characters"),
    ("take \ufffd\ufffd", NAMES, "not valid UTF-8"),
    (NARRATION, "cup", "list of strings"),
    (NARRATION, ["cup", 3], "list of strings"),
    (NARRATION, ["cup", " "], "object name is empty"),
    (NARRATION, ["o"] * (MAX_QUERIES + 1), "exceed the limit"),
])
def test_bad_prompts_are_one_line_input_errors(segmenter, image, narration, names, message) -> None:
    with pytest.raises(InputError, match=message):
        segmenter.predict(image, narration, names)


def test_missing_or_damaged_model_folders_are_one_line_errors(model_dir, tmp_path) -> None:
    def error_of(path: Path, **kwargs) -> str:
        with pytest.raises(ModelDirError) as error:
            Segmenter.load(path, **kwargs)
        assert isinstance(error.value, ActiSegError)  # so every CLI prints it as one line
        assert "\n" not in str(error.value)
        return str(error.value)

    assert "model folder not found" in error_of(tmp_path / "absent")
    (tmp_path / "file").write_text("x")
    assert "not a folder" in error_of(tmp_path / "file")
    assert "model.json: missing" in error_of(tmp_path)

    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    metadata = json.loads((copy / "model.json").read_text())
    (copy / "model.json").write_text("{not json")
    assert "not valid JSON" in error_of(copy)
    (copy / "model.json").write_text(json.dumps({**metadata, "format": "actiseg-onnx/99"}))
    assert "actiseg-onnx/99" in error_of(copy)
    (copy / "model.json").write_text(json.dumps({key: v for key, v in metadata.items() if key != "sha256"}))
    assert "malformed" in error_of(copy)
    broken = json.loads(json.dumps(metadata))
    broken["contract"]["gate"]["thresholds"]["max_wobble"] = 0.5
    (copy / "model.json").write_text(json.dumps(broken))
    assert "max_wobble are not GateConfig fields" in error_of(copy)
    broken = json.loads(json.dumps(metadata))
    broken["contract"]["prompt_template"] = "{name} while {narration}"
    (copy / "model.json").write_text(json.dumps(broken))
    assert "contract malformed (KeyError: 'name')" in error_of(copy)
    broken = json.loads(json.dumps(metadata))
    broken["contract"]["text_encoder"]["module"] = "no_such_text_encoder_package"
    broken["contract"]["text_encoder"]["package"] = "no-such-text-encoder"
    (copy / "model.json").write_text(json.dumps(broken))
    assert "pip install no-such-text-encoder" in error_of(copy)
    broken["contract"]["text_encoder"] = {**metadata["contract"]["text_encoder"], "sha256": "0" * 64}
    (copy / "model.json").write_text(json.dumps(broken))
    assert "model.onnx: sha256 differs" in error_of(copy)  # another version of the encoder package
    (copy / "model.json").write_text(json.dumps(metadata))

    data = bytearray((copy / "segmenter.onnx").read_bytes())
    (copy / "segmenter.onnx").write_bytes(bytes(data[: len(data) // 2]))  # a truncated copy
    assert "sha256 differs" in error_of(copy)
    with pytest.raises(BackendError, match="onnxruntime cannot load it"):
        from actiseg_core.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

        OnnxRuntimeBackend(read_model_dir(copy, verify_hashes=False).segmenter_path)
    (copy / "segmenter.onnx").unlink()
    assert "segmenter.onnx: missing" in error_of(copy)


def test_unknown_or_unavailable_backends_are_clear_errors(model_dir) -> None:
    with pytest.raises(BackendError, match="unknown backend 'tensorflow'"):
        Segmenter.load(model_dir, backend="tensorflow")
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(BackendError, match="lacks .*CPUExecutionProvider"):
            Segmenter.load(model_dir, backend="onnxruntime-cuda")
    if importlib.util.find_spec("tensorrt") is None:
        with pytest.raises(BackendError, match="needs the tensorrt Python package"):
            Segmenter.load(model_dir, backend="tensorrt")


# --- TensorRT engine cache (pure Python; the native backend itself needs a GPU) ---------------------------------

def _key(**changes) -> EngineKey:
    fields = {"onnx_sha256": "a" * 64, "tensorrt_version": "10.9.0", "gpu_name": "NVIDIA H100 80GB HBM3",
              "compute_capability": "9.0", "precision": "fp16", "input_size": (256, 448), "max_queries": 16}
    return EngineKey(**{**fields, **changes})


def test_engine_cache_builds_once_then_hits(tmp_path) -> None:
    cache, builds = EngineCache(tmp_path), []

    def build() -> bytes:
        builds.append(1)
        return b"engine-bytes"

    assert cache.get_or_build(_key(), build) == (b"engine-bytes", True)
    assert cache.get_or_build(_key(), build) == (b"engine-bytes", False)
    assert len(builds) == 1
    assert cache.get_or_build(_key(), build, force_rebuild=True) == (b"engine-bytes", True)
    assert len(builds) == 2
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".engine", ".json"]  # no temporary files left


@pytest.mark.parametrize("change", [{"gpu_name": "NVIDIA A100"}, {"tensorrt_version": "10.10.0"},
                                    {"onnx_sha256": "b" * 64}, {"precision": "fp32"}, {"max_queries": 8},
                                    {"compute_capability": "8.0"}, {"input_size": (240, 320)}])
def test_engine_for_another_gpu_version_model_or_profile_is_not_reused(tmp_path, change) -> None:
    cache = EngineCache(tmp_path)
    cache.store(_key(), b"h100-engine")
    assert cache.load(_key(**change)) is None
    assert cache.get_or_build(_key(**change), lambda: b"new") == (b"new", True)
    assert cache.load(_key()) == b"h100-engine"


def test_engine_without_matching_sidecar_is_never_loaded(tmp_path) -> None:
    cache = EngineCache(tmp_path)
    cache.store(_key(), b"engine")
    cache.sidecar_path(_key()).write_text(json.dumps({**_key().as_json(), "gpu_name": "other"}))
    assert cache.load(_key()) is None
    cache.sidecar_path(_key()).write_text("{broken")
    assert cache.load(_key()) is None
    cache.sidecar_path(_key()).unlink()
    assert cache.load(_key()) is None
    cache.store(_key(), b"engine")
    cache.invalidate(_key())
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(importlib.util.find_spec("tensorrt") is None,
                    reason="TensorRT unverified here: the tensorrt package has no wheels on this project's "
                           "registries and no GPU is attached (see README, 'Deployment')")
def test_tensorrt_backend_builds_caches_and_matches_onnxruntime(model_dir, tmp_path, image) -> None:
    engines = tmp_path / "engines"
    first = Segmenter.load(model_dir, backend="tensorrt", cache_dir=engines, positive_threshold=0.0)
    assert first.backend.built
    again = Segmenter.load(model_dir, backend="tensorrt", cache_dir=engines, positive_threshold=0.0)
    assert not again.backend.built
    rebuilt = Segmenter.load(model_dir, backend="tensorrt", cache_dir=engines, force_rebuild=True)
    assert rebuilt.backend.built
    reference = Segmenter.load(model_dir, threads=1, positive_threshold=0.0)
    ours, theirs = again.predict(image, NARRATION, NAMES), reference.predict(image, NARRATION, NAMES)
    assert np.abs(ours.union_probability - theirs.union_probability).max() < 2e-2  # fp16 engine
