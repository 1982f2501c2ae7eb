"""Pre- and post-processing as two small ONNX graphs, so the runtime does no per-pixel work in Python.

``preprocess.onnx``: ``image`` uint8 [H, W, 3] RGB (any H, W) -> ``images`` float32 [1, 3, h, w] in 0..1 at the
model's input size. Resize is linear with antialiasing, which matches the PIL bilinear downscale used in training
(``training.data.resize_image``) to 0.27 grey levels on average (max 2.5) on an 854x480 ActiSeg-Sim frame, where
a plain bilinear (OpenCV INTER_LINEAR) differs by 2.7 on average and 56 at most.

``postprocess.onnx``: the segmenter's ``mask_logits`` [K, 1, h, w] and ``positive_logits`` [K], the camera
``image_size`` [2] and the two thresholds -> ``positive_scores`` [K], ``object_probabilities`` [K, h, w] (model
resolution: what the gate reads), ``union_probability`` float32 [H, W] and ``label_map`` uint8 [H, W] at the
camera's resolution. The label map is :func:`actiseg_core.metrics.predicted_label_map` in graph form (ActionVOS:
objects whose positive score is below the positive threshold are dropped; each pixel goes to the most probable
remaining object, first on ties, if that probability reaches the pixel threshold; label k + 1 = k-th query), with
logits upsampled bilinearly (half-pixel centres, no antialias) as evaluation does, so runtime and evaluation agree.
K must be >= 1 (the runtime answers K = 0 without running any graph) and <= 255 (uint8 labels).
"""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

PREPROCESS_FILE = "preprocess.onnx"
POSTPROCESS_FILE = "postprocess.onnx"
OPSET = 18  # Resize's antialias attribute and ReduceMax with an axes input need 18


def preprocess_graph(height: int, width: int) -> bytes:
    """uint8 HWC RGB image of any size -> float32 NCHW 0..1 at ``height`` x ``width`` (antialiased linear)."""
    nodes = [
        helper.make_node("Cast", ["image"], ["image_float"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["image_float"], ["chw"], perm=[2, 0, 1]),
        helper.make_node("Unsqueeze", ["chw", "axis0"], ["nchw"]),
        helper.make_node("Resize", ["nchw", "", "", "sizes"], ["resized"], mode="linear", antialias=1,
                         coordinate_transformation_mode="half_pixel"),
        helper.make_node("Div", ["resized", "max_value"], ["scaled"]),
        # Antialiased resampling can overshoot 0..1 by a fraction of a grey level; PIL clamps to uint8, so do we.
        helper.make_node("Clip", ["scaled", "zero", "one"], ["images"]),
    ]
    initializers = [
        helper.make_tensor("axis0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("sizes", TensorProto.INT64, [4], [1, 3, height, width]),
        helper.make_tensor("max_value", TensorProto.FLOAT, [], [255.0]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
    ]
    graph = helper.make_graph(
        nodes, "actiseg_preprocess",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["H", "W", 3])],
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])],
        initializer=initializers)
    return _serialised(graph)


def postprocess_graph() -> bytes:
    """Segmenter outputs -> scores, model-resolution probabilities, camera-resolution union and label map."""
    nodes = [
        helper.make_node("Sigmoid", ["positive_logits"], ["positive_scores"]),
        helper.make_node("Sigmoid", ["mask_logits"], ["probabilities_4d"]),
        helper.make_node("Squeeze", ["probabilities_4d", "axis1"], ["object_probabilities"]),
        # sizes = [K, 1, H, W]: K and the channel from the logits, H and W from the camera image
        helper.make_node("Shape", ["mask_logits"], ["logits_shape"], end=2),
        helper.make_node("Concat", ["logits_shape", "image_size"], ["sizes"], axis=0),
        helper.make_node("Resize", ["mask_logits", "", "", "sizes"], ["upsampled"], mode="linear",
                         coordinate_transformation_mode="half_pixel"),
        helper.make_node("Squeeze", ["upsampled", "axis1"], ["upsampled_logits"]),
        helper.make_node("GreaterOrEqual", ["positive_scores", "positive_threshold"], ["active"]),
        helper.make_node("Unsqueeze", ["active", "axes12"], ["active_3d"]),
        # Sigmoid is monotonic: argmax and the pixel threshold work on logits, so only the winning map (one
        # [H, W] plane, not K) is ever passed through a sigmoid at the camera's resolution.
        helper.make_node("Where", ["active_3d", "upsampled_logits", "lowest"], ["active_logits"]),
        helper.make_node("ArgMax", ["active_logits"], ["best"], axis=0, keepdims=0),
        helper.make_node("ReduceMax", ["active_logits", "axis0"], ["best_logit"], keepdims=0),
        helper.make_node("Sigmoid", ["best_logit"], ["union_probability"]),
        helper.make_node("GreaterOrEqual", ["union_probability", "pixel_threshold"], ["foreground"]),
        helper.make_node("Add", ["best", "one_int"], ["label_int"]),
        helper.make_node("Where", ["foreground", "label_int", "zero_int"], ["label_int_map"]),
        helper.make_node("Cast", ["label_int_map"], ["label_map"], to=TensorProto.UINT8),
    ]
    initializers = [
        helper.make_tensor("axis0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("axes12", TensorProto.INT64, [2], [1, 2]),
        helper.make_tensor("lowest", TensorProto.FLOAT, [], [-1e30]),  # sigmoid(-1e30) = 0: inactive = zero
        helper.make_tensor("one_int", TensorProto.INT64, [], [1]),
        helper.make_tensor("zero_int", TensorProto.INT64, [], [0]),
    ]
    inputs = [
        helper.make_tensor_value_info("mask_logits", TensorProto.FLOAT, ["K", 1, "h", "w"]),
        helper.make_tensor_value_info("positive_logits", TensorProto.FLOAT, ["K"]),
        helper.make_tensor_value_info("image_size", TensorProto.INT64, [2]),
        helper.make_tensor_value_info("pixel_threshold", TensorProto.FLOAT, []),
        helper.make_tensor_value_info("positive_threshold", TensorProto.FLOAT, []),
    ]
    outputs = [
        helper.make_tensor_value_info("positive_scores", TensorProto.FLOAT, ["K"]),
        helper.make_tensor_value_info("object_probabilities", TensorProto.FLOAT, ["K", "h", "w"]),
        helper.make_tensor_value_info("union_probability", TensorProto.FLOAT, ["H", "W"]),
        helper.make_tensor_value_info("label_map", TensorProto.UINT8, ["H", "W"]),
    ]
    return _serialised(helper.make_graph(nodes, "actiseg_postprocess", inputs, outputs, initializer=initializers))


def _serialised(graph: onnx.GraphProto) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="actiseg")
    model.ir_version = 9  # onnxruntime 1.17+ reads IR 9; newer onnx writes 10+, which older runtimes refuse
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()
