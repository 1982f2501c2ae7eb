"""Thin ROS 2 adapter around actiseg_core.runtime and actiseg_core.gating (no torch import).

The generated messages (``actiseg_ros.msg``) live in the colcon install, this package's sources in the repository;
extending ``__path__`` lets ``python -m actiseg_ros.node`` from the repository root find both halves.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
