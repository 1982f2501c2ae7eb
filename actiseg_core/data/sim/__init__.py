"""ActiSeg-Sim: narrated robot-manipulation clips rendered with MuJoCo from robosuite's MIT-licensed assets.

The clips are written in the ActionVOS layout (see :mod:`actiseg_core.data.layout`) with exact masks, so the
loader that reads VISOR + ActionVOS data reads them unchanged. Entry point: :func:`render.render_split`.

``MUJOCO_GL`` defaults to ``egl`` here (headless rendering through Mesa on the CPU) because MuJoCo reads it when it
is first imported, and every module of this package imports MuJoCo; set it before importing to choose another.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
