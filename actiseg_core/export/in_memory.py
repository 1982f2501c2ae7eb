"""An actiseg-train checkpoint run as its export would run, without writing a model folder.

The torch backend runs the checkpoint; the pre/post graphs, the text encoder, the tokenizer and the contract are
those an export of it would get, so a checkpoint is scored by exactly the path a model folder is (needs torch).
"""

from __future__ import annotations

from pathlib import Path

from actiseg_core.export.contract_defaults import checkpoint_contract, deployment_tokenizer_json
from actiseg_core.export.processing_graphs import POSTPROCESS_FILE, PREPROCESS_FILE, processing_graphs
from actiseg_core.runtime.backends.torch_backend import TorchBackend
from actiseg_core.runtime.segmenter import Segmenter
from actiseg_core.runtime.text import PromptEmbedder


def checkpoint_segmenter(checkpoint: Path | str, threads: int | None = None, device: str = "cpu",
                         vocabulary: tuple[str, ...] | None = None) -> Segmenter:
    """A :class:`Segmenter` for ``checkpoint`` (unfitted gate; ``vocabulary`` as an export's ``--vocabulary``)."""
    runner = TorchBackend.from_checkpoint(Path(checkpoint), device=device, threads=threads)
    contract = checkpoint_contract(*runner.input_size, vocabulary, runner.config.name_embedding)
    graphs = processing_graphs(*runner.input_size)
    text = PromptEmbedder(contract.text_encoder, contract.text_encoder.path(Path(checkpoint).parent),
                          deployment_tokenizer_json(contract.text_encoder.max_length), threads)
    return Segmenter(contract, runner, text, graphs[PREPROCESS_FILE], graphs[POSTPROCESS_FILE], threads)
