"""Start the ActiSeg segmenter: ``ros2 launch actiseg_ros segment.launch.py [arg:=value ...]``.

Launch arguments: ``params_file`` (default: the installed config/segment.yaml), ``model_dir`` (default: the
installed default model), ``backend``, ``image_topic``, ``narration_topic``, ``namespace``, ``use_sim_time``.
Everything else is a node parameter in the YAML, which works unchanged with ``--ros-args --params-file``.

Fast DDS's default transports lose most best-effort 640x480 frames between processes on one machine; its
LARGE_DATA builtin transports deliver all of them in ~3 ms (DESIGN §9), so this launch file sets it for the node
(publishers of large images should set it too).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("actiseg_ros")
    arguments = {
        "params_file": (os.path.join(share, "config", "segment.yaml"), "node parameters (YAML)"),
        "model_dir": (os.path.join(share, "models", "default_int8"),
                      "model folder (model.json + ONNX graphs); models/default is the fp32 one"),
        "backend": ("onnxruntime", "onnxruntime | onnxruntime-cuda | onnxruntime-tensorrt | tensorrt | torch"),
        "image_topic": ("image", "camera topic (sensor_msgs/Image; <topic>/compressed when image_transport is "
                                 "compressed)"),
        "narration_topic": ("narration", "narration topic (actiseg_ros/ActionNarration or std_msgs/String)"),
        "namespace": ("", "namespace of the node and its topics"),
        "use_sim_time": ("false", "use /clock (rosbag replay)"),
    }
    declared = [DeclareLaunchArgument(name, default_value=default, description=description)
                for name, (default, description) in arguments.items()]
    image_topic = LaunchConfiguration("image_topic")
    node = Node(
        package="actiseg_ros",
        executable="segment_node",
        name="actiseg_segmenter",
        namespace=LaunchConfiguration("namespace"),
        parameters=[
            LaunchConfiguration("params_file"),
            {"model_dir": LaunchConfiguration("model_dir"), "backend": LaunchConfiguration("backend"),
             "use_sim_time": ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)},
        ],
        remappings=[("image", image_topic),
                    ("image/compressed", [image_topic, "/compressed"]),
                    ("narration", LaunchConfiguration("narration_topic"))],
        output="screen",
        emulate_tty=True,
    )
    return LaunchDescription([*declared, SetEnvironmentVariable("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA"), node])
