"""The operating contract of a model folder: everything a consumer must do the way the model was trained and fitted.

A model folder's ``model.json`` carries it under ``"contract"``; this module is the one place that writes and reads
that section. Runtime, evaluation, gate, node and bag replay take their prompt template, thresholds, vocabulary,
fitted gate and text encoder from here; YAML parameters and launch arguments only override.

* ``prompt_template`` / ``text_normalisation``: how a name and a narration become the prompt
  (:func:`actiseg_core.prompts.build_prompt`).
* ``name_embedding``: each query is embedded from its prompt and from the object's name alone, concatenated
  (:func:`actiseg_core.prompts.query_texts`); absent in folders made before it (False).
* ``pixel_threshold`` / ``positive_threshold``: a pixel belongs to an object at probability >= the first; an object
  whose positive score is below the second is dropped entirely (ActionVOS's inference thresholds).
* ``vocabulary``: candidate object names queried when a narration names none.
* ``gate``: the GO / NO-GO thresholds (``GateConfig`` field names) and how they were fitted (``fitted``: split,
  data hash, target, commit; ``None`` when never fitted for this folder's graph).
* ``text_encoder``: the ONNX text encoder the prompt embeddings must come from (a file of the folder, or of an
  installed package, with its sha256), its tokenizer, output and pooling.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from actiseg_core.atomic import atomic_write_json
from actiseg_core.errors import ActiSegError
from actiseg_core.gating import GateConfig
from actiseg_core.prompts import PROMPT_TEMPLATE, TEXT_NORMALISATION, build_prompt, query_texts, texts_per_query

#: ActionVOS's inference thresholds (RF_ActionVOS ``inference_actionvos.py``), the defaults of a new contract.
PIXEL_THRESHOLD = 0.5
POSITIVE_THRESHOLD = 0.75
#: The robot's own "hand": always a candidate.
GRIPPER_NAME = "robot hand"
METADATA_FILE = "model.json"


class ContractError(ActiSegError):
    """A contract section that is missing, malformed or names a text encoder that cannot be found."""


@dataclass(frozen=True)
class TextEncoderSpec:
    """Which ONNX graph embeds prompts, and how its output becomes one unit vector per prompt.

    Attributes:
        file: the ONNX file, relative to the model folder, or to the installed ``package``'s folder.
        sha256: the file's hash; a different file is refused.
        tokenizer: ``tokenizer.json`` in the model folder (pads to the longest prompt, truncates at max_length).
        package: the pip distribution that ships ``file`` (None: the file is in the model folder).
        module: the importable module of ``package`` whose folder holds ``file``.
        output: ``embeddings`` (already pooled and normalised) or ``last_hidden_state`` (mean-pooled over the
            attention mask and L2-normalised here, as sentence-transformers does).
    """

    file: str
    sha256: str
    tokenizer: str = "tokenizer.json"
    package: str | None = None
    module: str | None = None
    output: str = "embeddings"
    max_length: int = 256
    dim: int = 384

    def path(self, model_dir: Path) -> Path:
        """The ONNX file; a package that is not installed is a :class:`ContractError` naming it."""
        if self.module is None:
            return Path(model_dir) / self.file
        import importlib

        try:
            module = importlib.import_module(self.module)
        except ImportError:
            raise ContractError(f"the text encoder comes from the package {self.package!r}, which is not installed: "
                                f"pip install {self.package}") from None
        return Path(module.__file__).parent / self.file


@dataclass(frozen=True)
class GateSpec:
    """Gate thresholds (``GateConfig`` fields) and the record of how they were fitted (None: never fitted)."""

    thresholds: dict[str, float] = field(default_factory=dict)
    fitted: dict[str, Any] | None = None

    def kept_for(self, segmenter_sha256: str) -> GateSpec:
        """This gate if it was fitted for the segmenter graph with ``segmenter_sha256``, else an unfitted one: a
        gate is fitted for one graph, so a re-export or requantization keeps it only for the very same graph."""
        return self if (self.fitted or {}).get("segmenter_sha256") == segmenter_sha256 else GateSpec()


@dataclass(frozen=True)
class Contract:
    """How to run one model folder (see the module docstring)."""

    input_height: int
    input_width: int
    text_encoder: TextEncoderSpec
    prompt_template: str = PROMPT_TEMPLATE
    text_normalisation: str = TEXT_NORMALISATION
    name_embedding: bool = False
    pixel_threshold: float = PIXEL_THRESHOLD
    positive_threshold: float = POSITIVE_THRESHOLD
    vocabulary: tuple[str, ...] = (GRIPPER_NAME,)
    gate: GateSpec = field(default_factory=GateSpec)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.input_height, self.input_width

    @property
    def query_text_dim(self) -> int:
        """Width of one query's text input: :meth:`query_texts`' embeddings side by side."""
        return self.text_encoder.dim * texts_per_query(self.name_embedding)

    def prompt(self, object_name: str, narration: str) -> str:
        return build_prompt(object_name, narration, self.prompt_template)

    def query_texts(self, object_name: str, narration: str) -> list[str]:
        """The texts whose embeddings, concatenated, make the query's text input."""
        return query_texts(object_name, narration, self.prompt_template, self.name_embedding)

    def gate_config(self, **overrides: float) -> GateConfig:
        """The fitted gate, with ``overrides`` (GateConfig field -> value) applied on top."""
        return GateConfig(**{**self.gate.thresholds, **overrides})

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["vocabulary"] = list(self.vocabulary)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Contract:
        """Parse a ``"contract"`` section; anything malformed is a one-line :class:`ContractError`."""
        try:
            known = {f.name for f in fields(GateConfig)}
            gate = GateSpec(thresholds={str(k): float(v) for k, v in data["gate"]["thresholds"].items()},
                            fitted=data["gate"].get("fitted"))
            unknown = sorted(set(gate.thresholds) - known)
            if unknown:
                raise ContractError(f"gate thresholds {', '.join(unknown)} are not GateConfig fields")
            contract = cls(input_height=int(data["input_height"]), input_width=int(data["input_width"]),
                           text_encoder=TextEncoderSpec(**data["text_encoder"]),
                           prompt_template=str(data["prompt_template"]),
                           text_normalisation=str(data["text_normalisation"]),
                           name_embedding=bool(data.get("name_embedding", False)),
                           pixel_threshold=float(data["pixel_threshold"]),
                           positive_threshold=float(data["positive_threshold"]),
                           vocabulary=tuple(str(name) for name in data["vocabulary"]), gate=gate)
            contract.prompt("object", "narration")  # the template must take exactly these two fields
        except ContractError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ContractError(f"contract malformed ({type(exc).__name__}: {exc})") from None
        if contract.text_normalisation != TEXT_NORMALISATION:
            raise ContractError(f"text normalisation {contract.text_normalisation!r} is not the one this runtime "
                                f"applies ({TEXT_NORMALISATION!r})")
        return contract


def read_contract(model_dir: Path | str) -> Contract:
    """The contract of ``model_dir/model.json`` (no file checks: :func:`actiseg_core.runtime.read_model_dir`)."""
    path = Path(model_dir) / METADATA_FILE
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ContractError(f"{path}: cannot read ({exc})") from None
    if "contract" not in metadata:
        raise ContractError(f"{path}: no contract section (exported by an older version: export it again)")
    return Contract.from_dict(metadata["contract"])


def earlier_contract(model_dir: Path | str) -> Contract | None:
    """The contract of an earlier export in ``model_dir``, if it has a readable one (None otherwise)."""
    try:
        return read_contract(model_dir)
    except ContractError:
        return None


def write_gate(model_dir: Path | str, thresholds: dict[str, float], fitted: dict[str, Any]) -> Contract:
    """Store a gate fit in ``model_dir/model.json`` (atomically); returns the updated contract.

    ``thresholds`` are GateConfig fields; fields it leaves out keep GateConfig's neutral defaults. The record gets
    the sha256 of the segmenter graph it was fitted for: a re-export keeps the gate only for that same graph.
    """
    path = Path(model_dir) / METADATA_FILE
    metadata = json.loads(path.read_text(encoding="utf-8"))
    record = {**fitted, "segmenter_sha256": metadata["sha256"][metadata["segmenter"]["file"]]}
    contract = replace(read_contract(model_dir), gate=GateSpec({k: float(v) for k, v in thresholds.items()}, record))
    contract = Contract.from_dict(contract.to_dict())  # validates the field names
    metadata["contract"] = contract.to_dict()
    atomic_write_json(path, metadata)
    return contract
