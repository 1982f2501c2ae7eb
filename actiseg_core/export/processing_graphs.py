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
    """Segmenter outputs -> scores, model-resolution probabilities, camera-resolution union and label map.

    Only the active objects' maps are upsampled: the inactive ones are dropped at model resolution (``Compress``)
    and a constant "nobody" plane goes first, so the camera-resolution work (Resize, ArgMax, ReduceMax) scales
    with the A active objects + 1, not with K (``benchmarks/results/design_measurements.md``). A lookup table
    (``Gather``) turns the winning plane back into the object's label.
    """
    nodes = [
        helper.make_node("Sigmoid", ["positive_logits"], ["positive_scores"]),
        helper.make_node("Sigmoid", ["mask_logits"], ["probabilities_4d"]),
        helper.make_node("Squeeze", ["probabilities_4d", "axis1"], ["object_probabilities"]),
        helper.make_node("GreaterOrEqual", ["positive_scores", "positive_threshold"], ["active"]),
        helper.make_node("Compress", ["mask_logits", "active"], ["active_logits"], axis=0),
        # sizes = [A, 1, H, W]: planes and channel from the active logits, H and W from the camera image
        helper.make_node("Shape", ["active_logits"], ["active_shape"], end=2),
        helper.make_node("Concat", ["active_shape", "image_size"], ["sizes"], axis=0),
        helper.make_node("Resize", ["active_logits", "", "", "sizes"], ["upsampled_4d"], mode="linear",
                         coordinate_transformation_mode="half_pixel"),
        helper.make_node("Squeeze", ["upsampled_4d", "axis1"], ["upsampled"]),
        # the "nobody" plane [1, H, W] at -1e30 goes first: ArgMax lands on it only where no object is active
        helper.make_node("Concat", ["one", "image_size"], ["nobody_shape"], axis=0),
        helper.make_node("Expand", ["lowest", "nobody_shape"], ["nobody"]),
        helper.make_node("Concat", ["nobody", "upsampled"], ["upsampled_logits"], axis=0),
        # label of each candidate plane: 0 for "nobody", then k + 1 of each active query k, in query order
        helper.make_node("Shape", ["positive_logits"], ["k_1d"]),
        helper.make_node("Squeeze", ["k_1d"], ["k"]),
        helper.make_node("Add", ["k", "one_int"], ["k_plus_one"]),
        helper.make_node("Range", ["one_int", "k_plus_one", "one_int"], ["query_labels"]),
        helper.make_node("Compress", ["query_labels", "active"], ["active_labels"], axis=0),
        helper.make_node("Concat", ["zero_int_1d", "active_labels"], ["candidate_labels_int"], axis=0),
        helper.make_node("Cast", ["candidate_labels_int"], ["candidate_labels"], to=TensorProto.UINT8),
        # Sigmoid is monotonic: argmax and the pixel threshold work on logits, so only the winning map (one
        # [H, W] plane) is ever passed through a sigmoid at the camera's resolution. Ties go to the first plane,
        # i.e. the lower query index, as predicted_label_map does.
        helper.make_node("ArgMax", ["upsampled_logits"], ["best"], axis=0, keepdims=0),
        helper.make_node("ReduceMax", ["upsampled_logits", "axis0"], ["best_logit"], keepdims=0),
        helper.make_node("Sigmoid", ["best_logit"], ["union_probability"]),
        helper.make_node("GreaterOrEqual", ["union_probability", "pixel_threshold"], ["foreground"]),
        helper.make_node("Gather", ["candidate_labels", "best"], ["best_label"], axis=0),
        helper.make_node("Where", ["foreground", "best_label", "zero_uint8"], ["label_map"]),
    ]
    initializers = [
        helper.make_tensor("axis0", TensorProto.INT64, [1], [0]),
        helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("one", TensorProto.INT64, [1], [1]),
        helper.make_tensor("lowest", TensorProto.FLOAT, [], [-1e30]),  # sigmoid(-1e30) = 0: nobody = background
        helper.make_tensor("one_int", TensorProto.INT64, [], [1]),
        helper.make_tensor("zero_int_1d", TensorProto.INT64, [1], [0]),
        helper.make_tensor("zero_uint8", TensorProto.UINT8, [], [0]),
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


def processing_graphs(height: int, width: int) -> dict[str, bytes]:
    """Both graphs by file name, for a model input of ``height`` x ``width``: what an export writes, and what
    ``is_current_export`` compares a folder's hashes with (a folder exported before a graph changed is stale)."""
    return {PREPROCESS_FILE: preprocess_graph(height, width), POSTPROCESS_FILE: postprocess_graph()}


def _serialised(graph: onnx.GraphProto) -> bytes:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="actiseg")
    model.ir_version = 9  # onnxruntime 1.17+ reads IR 9; newer onnx writes 10+, which older runtimes refuse
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()
