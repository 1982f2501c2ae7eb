"""The gate's distribution-shift score: a Gaussian of pooled encoder features, stored in the model folder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from actiseg_core.export.onnx_export import export_segmenter
from actiseg_core.feature_density import DENSITY_FILE, FeatureDensity, FeatureDensityError, density_for, write_density
from actiseg_core.gating import Gate, GateConfig
from actiseg_core.runtime import Segmenter


def _gaussian(rng: np.random.Generator, n: int, shift: float = 0.0) -> np.ndarray:
    mixing = np.random.default_rng(7).normal(size=(16, 16))  # correlated features, fixed across calls
    return (rng.normal(size=(n, 16)) + shift) @ mixing


def test_scores_are_uniform_in_distribution_and_one_far_outside() -> None:
    rng = np.random.default_rng(0)
    density = FeatureDensity.fit(_gaussian(rng, 400), _gaussian(rng, 200))
    inside = np.array([density.score(x) for x in _gaussian(rng, 300)])
    outside = np.array([density.score(x) for x in _gaussian(rng, 100, shift=3.0)])
    assert 0.35 < np.median(inside) < 0.65 and (inside < 0.99).mean() > 0.9
    assert (outside == 1.0).mean() > 0.95
    assert density.score(np.zeros(16) + 1e3) == 1.0 and 0.0 <= density.score(density.mean) < 0.05


def test_name_familiarity_is_the_best_cosine_to_a_training_name_and_survives_a_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(5)
    density = FeatureDensity.fit(rng.normal(size=(20, 4)), rng.normal(size=(5, 4)))
    assert np.isnan(density.familiarity(np.ones((2, 3)))).all()  # no names: the check cannot fire
    named = density.with_names(np.array([[2.0, 0, 0], [0, 1.0, 0]]))
    np.testing.assert_allclose(named.familiarity(np.array([[1.0, 0, 0], [1.0, 1.0, 0], [0, 0, 3.0]])),
                               [1.0, np.sqrt(0.5), 0.0], atol=1e-6)
    (tmp_path / "d.npz").write_bytes(named.to_bytes())
    np.testing.assert_array_equal(FeatureDensity.load(tmp_path / "d.npz").names, named.names)


def test_fit_and_shape_errors_are_one_line() -> None:
    with pytest.raises(FeatureDensityError, match="need >= 2 fit frames"):
        FeatureDensity.fit(np.zeros((1, 4)), np.zeros((3, 4)))
    density = FeatureDensity.fit(np.random.default_rng(1).normal(size=(20, 4)), np.zeros((3, 4)))
    with pytest.raises(FeatureDensityError, match="features have 5 values, the density 4"):
        density.score(np.zeros(5))


def test_the_gate_refuses_a_shifted_frame_only_with_a_density() -> None:
    rng = np.random.default_rng(2)
    density = FeatureDensity.fit(_gaussian(rng, 200), _gaussian(rng, 100))
    probabilities = np.zeros((1, 20, 30), np.float32)
    probabilities[0, 5:15, 5:20] = 0.95
    config = GateConfig(max_ood_score=0.99)
    far = _gaussian(rng, 1, shift=5.0)[0]
    decision = Gate(config, 0.5, 0.75, density).decide(probabilities, np.array([0.99]), "take cup", image_features=far)
    assert decision.reasons == ("out_of_distribution",) and decision.features.ood_score == 1.0
    assert Gate(config, 0.5, 0.75).decide(probabilities, np.array([0.99]), "take cup", image_features=far).go
    near = Gate(config, 0.5, 0.75, density).decide(probabilities, np.array([0.99]), "take cup",
                                                   image_features=density.mean)
    assert near.go


def test_a_model_folder_carries_its_density_for_its_own_graph(tiny_export, tiny_checkpoint, tmp_path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_export.out_dir, folder)
    segmenter = Segmenter.load(folder)
    assert segmenter.feature_density is None
    image = np.random.default_rng(3).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    features = segmenter.predict(image, "take the cup", ["cup"]).image_features
    assert features is not None and features.ndim == 1 and np.isfinite(features).all()
    rng = np.random.default_rng(4)
    samples = features + rng.normal(0, 0.01, (60, features.size)).astype(np.float32)
    write_density(folder, FeatureDensity.fit(samples[:40], samples[40:]), {"data": "test"})
    loaded = Segmenter.load(folder)
    assert loaded.feature_density is not None and loaded.feature_density.dim == features.size
    export_segmenter(tiny_checkpoint, folder)  # re-exporting the same weights keeps the density of the same graph
    metadata = json.loads((folder / "model.json").read_text())
    assert metadata["feature_density"]["data"] == "test" and Segmenter.load(folder).feature_density is not None
    (folder / DENSITY_FILE).write_bytes(b"garbage")
    with pytest.raises(FeatureDensityError, match="sha256 differs"):
        Segmenter.load(folder)
    metadata["feature_density"]["segmenter_sha256"] = "another graph"
    assert density_for(folder, metadata) is None  # fitted for another graph: not used
