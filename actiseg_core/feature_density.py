"""How far is a camera frame from what the model was trained on? A Gaussian density of pooled encoder features.

The segmenter graph also returns ``image_features``: the image encoder's stride-16 and stride-32 feature maps,
each averaged over the image (for EfficientNet-Lite0, 112 + 320 values per frame). A frame from another renderer,
a dead camera or an unseen kind of scene moves them away from where the training frames lie, whatever the masks
look like. :class:`FeatureDensity` is a Gaussian fitted on training frames (mean and a shrunk covariance, so it
is well conditioned with fewer frames than dimensions would need), and a frame's score is the **share of held-out
in-distribution frames whose Mahalanobis distance is smaller** than the frame's: 0..1, about uniform on frames
like the training ones, 1 beyond all of them (Lee et al. 2018, "A simple unified framework for detecting
out-of-distribution samples", with a single class-agnostic Gaussian). The gate's ``max_ood_score`` compares with
it (``actiseg_core.gating``). Numpy only: it runs in the node for every frame (one 432x432 product, ~0.1 ms).

The same file keeps the text side: the embeddings of every object name of the training split (the deployed text
encoder's, unit length). :meth:`FeatureDensity.familiarity` gives a candidate name's highest cosine similarity to
them (1 for a name seen in training), the gate's ``min_name_familiarity`` check: a class the model never saw is
segmented with confidence it has not earned (ActiSeg-Sim v2's novel classes), so an unfamiliar name is NO-GO.

The statistics travel in the model folder (:data:`DENSITY_FILE`, recorded in ``model.json`` with its sha256, the
segmenter graph they were fitted for and the data they came from); :func:`write_density` stores them.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from actiseg_core.atomic import atomic_write_bytes, atomic_write_json
from actiseg_core.errors import ActiSegError

DENSITY_FILE = "feature_density.npz"
METADATA_KEY = "feature_density"
#: covariance shrinkage towards its mean variance (Ledoit-Wolf's target): (1 - s) * S + s * mean(diag S) * I
SHRINKAGE = 0.1


class FeatureDensityError(ActiSegError):
    """A density file that is missing, corrupt or does not fit the segmenter's features."""


@dataclass(frozen=True)
class FeatureDensity:
    """Mean [C], precision (inverse shrunk covariance) [C, C], the sorted distances of reference frames [R] and
    the unit embeddings of the training object names [N, D] (N may be 0: no name check)."""

    mean: np.ndarray
    precision: np.ndarray
    reference: np.ndarray
    names: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    @classmethod
    def fit(cls, fit_features: np.ndarray, reference_features: np.ndarray,
            shrinkage: float = SHRINKAGE) -> FeatureDensity:
        """Fit on ``fit_features`` [N, C]; score against ``reference_features`` [R, C], frames of the same kind that
        the fit did not see (distances of the fit frames themselves are optimistically small)."""
        fit_features = np.asarray(fit_features, np.float64)
        if fit_features.ndim != 2 or len(fit_features) < 2 or len(reference_features) < 1:
            raise FeatureDensityError(f"need >= 2 fit frames and >= 1 reference frame of [N, C] features, got "
                                      f"{fit_features.shape} and {np.shape(reference_features)}")
        mean = fit_features.mean(axis=0)
        covariance = np.cov(fit_features, rowvar=False)
        target = float(np.mean(np.diag(covariance))) or 1.0
        covariance = (1 - shrinkage) * covariance + shrinkage * target * np.eye(len(mean))
        density = cls(mean.astype(np.float32), np.linalg.inv(covariance).astype(np.float32), np.zeros(0, np.float32))
        reference = np.sort(density.distances(np.asarray(reference_features, np.float32)))
        return cls(density.mean, density.precision, reference.astype(np.float32))

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distances of [N, C] (or one [C]) feature vectors."""
        features = np.atleast_2d(np.asarray(features, np.float32))
        if features.shape[1] != self.dim:
            raise FeatureDensityError(f"features have {features.shape[1]} values, the density {self.dim}")
        centred = features - self.mean
        return np.sqrt(np.maximum(np.einsum("nc,cd,nd->n", centred, self.precision, centred), 0.0))

    def with_names(self, embeddings: np.ndarray) -> FeatureDensity:
        """This density with the training names' embeddings [N, D] (normalised here)."""
        names = np.asarray(embeddings, np.float32)
        return replace(self, names=names / np.maximum(np.linalg.norm(names, axis=1, keepdims=True), 1e-12))

    def familiarity(self, embeddings: np.ndarray) -> np.ndarray:
        """[K] highest cosine similarity of each of K candidate-name embeddings [K, D] to a training name (NaN for
        every candidate when the density has no names)."""
        embeddings = np.atleast_2d(np.asarray(embeddings, np.float32))
        if not self.names.size:
            return np.full(len(embeddings), np.nan, np.float32)
        unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
        return (unit @ self.names.T).max(axis=1)

    def score(self, features: np.ndarray) -> float:
        """One frame's [C] features -> share of reference frames closer to the mean (0..1; 1 = beyond them all)."""
        distance = float(self.distances(features)[0])
        return float(np.searchsorted(self.reference, distance, side="left") / len(self.reference))

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, mean=self.mean, precision=self.precision, reference=self.reference, names=self.names)
        return buffer.getvalue()

    @classmethod
    def load(cls, path: Path) -> FeatureDensity:
        try:
            with np.load(path, allow_pickle=False) as data:
                density = cls(data["mean"].astype(np.float32), data["precision"].astype(np.float32),
                              data["reference"].astype(np.float32),
                              data["names"].astype(np.float32) if "names" in data else np.zeros((0, 0), np.float32))
        except (OSError, ValueError, KeyError) as exc:
            raise FeatureDensityError(f"{path}: not a feature density ({exc})") from None
        if density.precision.shape != (density.dim, density.dim) or not len(density.reference):
            raise FeatureDensityError(f"{path}: inconsistent shapes {density.mean.shape} / {density.precision.shape}"
                                      f" / {density.reference.shape}")
        return density


def write_density(model_dir: Path | str, density: FeatureDensity, fitted: dict[str, Any]) -> None:
    """Store ``density`` in the model folder and record it in ``model.json`` (both written atomically) for the
    folder's current segmenter graph."""
    root = Path(model_dir)
    payload = density.to_bytes()
    atomic_write_bytes(root / DENSITY_FILE, payload)
    path = root / "model.json"
    metadata = json.loads(path.read_text(encoding="utf-8"))
    metadata[METADATA_KEY] = {"file": DENSITY_FILE, "sha256": hashlib.sha256(payload).hexdigest(), "dim": density.dim,
                              "segmenter_sha256": metadata["sha256"][metadata["segmenter"]["file"]], **fitted}
    atomic_write_json(path, metadata)


def kept_record(model_dir: Path | str, segmenter_sha256: str) -> dict[str, Any] | None:
    """The density record of an earlier ``model.json`` in ``model_dir`` if it was fitted for exactly the graph with
    ``segmenter_sha256`` (a re-export of the same weights keeps it, a new graph does not), else None."""
    try:
        record = json.loads((Path(model_dir) / "model.json").read_text(encoding="utf-8")).get(METADATA_KEY)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("segmenter_sha256") == segmenter_sha256 else None


def density_for(root: Path, metadata: dict[str, Any]) -> FeatureDensity | None:
    """The folder's density if ``model.json`` records one for its current segmenter graph, else None.

    A density fitted for another graph (the folder was re-exported or requantized since) is not used: its features
    would be another model's. A recorded file that is missing or altered is a :class:`FeatureDensityError`.
    """
    record = metadata.get(METADATA_KEY)
    if not record or record.get("segmenter_sha256") != metadata["sha256"][metadata["segmenter"]["file"]]:
        return None
    path = root / record["file"]
    if not path.is_file():
        raise FeatureDensityError(f"{path}: missing from the model folder (model.json records it)")
    if hashlib.sha256(path.read_bytes()).hexdigest() != record["sha256"]:
        raise FeatureDensityError(f"{path}: sha256 differs from model.json (corrupt or partial copy)")
    return FeatureDensity.load(path)
