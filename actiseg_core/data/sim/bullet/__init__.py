"""ActiSeg-Sim v2's ``test_cross_renderer`` split: v2 episodes performed and filmed in pybullet, never trained on.

Same kinds of scenes as the MuJoCo clips (v2's objects from the asset packs, seen classes, v2's actions, hard
negatives, textures, light and external views), rendered by a different engine: pybullet's TinyRenderer (its own
camera model, rasteriser, Phong shading and shadow map) with pybullet's own robots (Franka Panda, KUKA iiwa with
its gripper, xArm 6). pybullet and ``pybullet_data`` are reserved for this split: nothing else imports them.

One idea per module: :mod:`.meshes` (objects as triangle meshes), :mod:`.robots` (embodiments, IK, fingers),
:mod:`.stage` (the pybullet world and its collision tests), :mod:`.motion` (placement and the scripted action),
:mod:`.camera` (view, lighting, one render), :mod:`.sensors` (depth, robot links, 3-D records) and :mod:`.clip`
(:func:`clip.make_clip`, the entry point, with the same signature as the MuJoCo clips' plus injectable assets).
"""
