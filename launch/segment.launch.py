"""Start the ActiSeg segmenter: ``ros2 launch actiseg_ros segment.launch.py [arg:=value ...]``.

Launch arguments (``--show-args`` lists them):

- ``params_file``: the node's parameters (YAML), by default the installed ``share/actiseg_ros/config/segment.yaml``.
  A file that does not exist ends the launch with an error naming it.
- ``model_dir``, ``backend``, ``use_sim_time``: override the node parameter of the same name, and only when given;
  otherwise the params file's value holds (and what it leaves out, the model folder's model.json and the node's own
  defaults), so a params file works the same here as with ``--ros-args --params-file``.
- ``image_topic``, ``narration_topic``: remap the node's ``image`` (and ``image/compressed``) and ``narration``.
- ``namespace``: namespace of the node and its topics.

Everything is scoped: a parent launch file that includes this one sees neither these arguments nor any environment
change. Fast DDS's default transports lose most best-effort 640x480 frames between processes on one machine, while
its LARGE_DATA builtin transports deliver them (DESIGN §9): the node process, and only it, gets
``FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA`` unless the environment already sets that variable (the user's value wins).
If the node exits with an error (a missing model folder, a bad parameter), the launch ends with a non-zero status.
"""

from __future__ import annotations

import os

from ament_index_python.packages import get_package_share_directory
from launch.action import Action
from launch.actions import DeclareLaunchArgument, GroupAction, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit
from launch.events.process import ProcessExited
from launch.launch_context import LaunchContext
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription

PACKAGE = "actiseg_ros"
NODE_NAME = "actiseg_segmenter"
DDS_TRANSPORTS = "FASTDDS_BUILTIN_TRANSPORTS"

# Node parameters a launch argument may override. The empty default means "not given": the parameter is then left
# to the params file.
PARAMETER_ARGUMENTS = {
    "model_dir": "model folder (model.json + ONNX graphs), e.g. models/default for the fp32 one, or auto (int8 "
                 "where the CPU has fast int8 instructions, else fp32); empty: the params file's model_dir (auto)",
    "backend": "onnxruntime | onnxruntime-cuda | onnxruntime-tensorrt | tensorrt | torch; empty: the params file's",
    "use_sim_time": "true: use /clock (rosbag replay); empty: the params file's, else false",
}
REMAP_ARGUMENTS = {
    "image_topic": ("image", "camera topic (sensor_msgs/Image; <topic>/compressed when image_transport is "
                             "compressed)"),
    "narration_topic": ("narration", "narration topic (actiseg_ros/ActionNarration or std_msgs/String)"),
    "namespace": ("", "namespace of the node and its topics"),
}


class SegmentLaunchError(RuntimeError):
    """A launch that cannot go on; launch logs its message as one line and exits non-zero."""


def _parameter_overrides(context: LaunchContext) -> dict[str, str | bool]:
    """The node parameters the user gave as launch arguments (the non-empty ones), typed as the node declares them."""
    overrides: dict[str, str | bool] = {}
    for name in PARAMETER_ARGUMENTS:
        value = LaunchConfiguration(name).perform(context).strip()
        if not value:
            continue
        if name == "use_sim_time":
            if value.lower() not in ("true", "false"):
                raise SegmentLaunchError(f"{PACKAGE} segment.launch.py: use_sim_time must be true or false, "
                                          f"not {value!r}")
            overrides[name] = value.lower() == "true"
        else:
            overrides[name] = value
    return overrides


def _on_node_exit(event: ProcessExited, context: LaunchContext) -> None:
    """A node that fails by itself (not stopped by the launch's shutdown) fails the launch: exit status 1."""
    if event.returncode != 0 and not context.is_shutdown:
        raise SegmentLaunchError(f"{NODE_NAME} exited with code {event.returncode} (its error is above)")


def _launch_node(context: LaunchContext) -> list[Action]:
    """The node, built from the arguments' values: the params file checked, only given arguments as overrides."""
    params_file = os.path.abspath(os.path.expanduser(LaunchConfiguration("params_file").perform(context)))
    if not os.path.isfile(params_file):
        raise SegmentLaunchError(f"{PACKAGE} segment.launch.py: params_file not found: {params_file}")
    overrides = _parameter_overrides(context)
    image_topic = LaunchConfiguration("image_topic").perform(context)
    node = Node(
        package=PACKAGE,
        executable="segment_node",
        name=NODE_NAME,
        namespace=LaunchConfiguration("namespace").perform(context),
        parameters=[params_file, overrides] if overrides else [params_file],
        remappings=[("image", image_topic),
                    ("image/compressed", f"{image_topic}/compressed"),
                    ("narration", LaunchConfiguration("narration_topic").perform(context))],
        # The launch's own environment is the user's: their value of the variable, even an empty one, is kept.
        additional_env=None if DDS_TRANSPORTS in os.environ else {DDS_TRANSPORTS: "LARGE_DATA"},
        output="screen",
        emulate_tty=True,
    )
    return [node, RegisterEventHandler(OnProcessExit(target_action=node, on_exit=_on_node_exit))]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory(PACKAGE)
    declared = [DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "segment.yaml"),
                                      description="node parameters (YAML)")]
    declared += [DeclareLaunchArgument(name, default_value="", description=description)
                 for name, description in PARAMETER_ARGUMENTS.items()]
    declared += [DeclareLaunchArgument(name, default_value=default, description=description)
                 for name, (default, description) in REMAP_ARGUMENTS.items()]
    return LaunchDescription([GroupAction([*declared, OpaqueFunction(function=_launch_node)], scoped=True,
                                          forwarding=True)])
