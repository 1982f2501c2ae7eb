"""What the ROS tests share: the environment ``scripts/ros_env.sh`` makes, and one ROS_DOMAIN_ID per test run.

Domain ids 30..79: above 101 Fast DDS's ports fall into Linux's ephemeral range (32768+) and discovery fails now
and then.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOMAINS = itertools.count(os.getpid() % 40 + 30)


def ros_environment() -> dict[str, str]:
    """The environment of ``scripts/ros_env.sh``; skips the test when there is no colcon build."""
    if not (REPO / "install" / "actiseg_ros").is_dir():
        pytest.skip("no colcon build (install/actiseg_ros): run scripts/setup_env.sh, which builds the messages")
    done = subprocess.run(["bash", "-c", "source scripts/ros_env.sh && env -0"], cwd=REPO, capture_output=True,
                          check=True)
    return dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)


def fresh_domain(env: dict[str, str]) -> dict[str, str]:
    """``env`` on a ROS_DOMAIN_ID no other test of this run uses, with one OpenMP thread."""
    return {**env, "ROS_DOMAIN_ID": str(next(DOMAINS)), "OMP_NUM_THREADS": "1"}
