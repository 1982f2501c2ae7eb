"""ActiSeg: active-object segmentation from action narrations, robust to noisy labels."""

from setuptools import find_packages, setup

setup(
    name="actiseg",
    version="0.1.0",
    description="Narration-conditioned active-object segmentation with GO/NO-GO gating for ROS 2",
    python_requires=">=3.11",
    packages=find_packages(include=["actiseg_core*", "actiseg_ros*", "training*"]),
    entry_points={
        "console_scripts": [
            "actiseg-data=actiseg_core.data.cli:main",
            "actiseg-train=training.train:main",
            "actiseg-evaluate=training.evaluate:main",
            "actiseg-export-onnx=actiseg_core.export.onnx_export:main",
            "actiseg-bag=training.bag_tools:main",
            "actiseg-benchmark=training.benchmark:main",
            "actiseg-quantize=actiseg_core.export.quantize:main",
        ]
    },
)
