"""Thin ROS 2 adapter around actiseg_core.runtime and actiseg_core.gating (no torch import)."""
