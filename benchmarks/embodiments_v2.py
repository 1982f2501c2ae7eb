"""How well ActiSeg-Sim's planner performs with each v2 embodiment, and what its grasps look like.

    python benchmarks/embodiments_v2.py [--episodes 10] [--sheets /tmp/actiseg_embodiments] [--labels a,b]

For every embodiment of :data:`embodiments.V2_EMBODIMENTS` (those needing robosuite-models only when that pack is
in the asset cache, unless ``--install-pack``): plans ``--episodes`` seeded episodes (train-split draws of action,
objects, textures and camera, with the embodiment put in) and records how many the planner performs and how long
compiling + planning took; then plans one pick and writes a contact sheet ``<sheets>/<label>.png``: four frames
from the episode's camera (rendered by the clip renderer) above three close-ups of the grasp, to look at whether
the fingers really close on the object. Writes ``benchmarks/results/embodiments_v2.md`` (its hand-written
"Visual check" section, what the sheets were seen to show, is kept).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from provenance import machine  # noqa: E402  (benchmarks/ is on sys.path when a script here runs)

from actiseg_core.data.sim import embodiments  # noqa: E402
from actiseg_core.data.sim.episode import EpisodeSpec, sample_episode  # noqa: E402
from actiseg_core.data.sim.frames import render_frames, visual_option  # noqa: E402
from actiseg_core.data.sim.motion import PLACEMENT_ATTEMPTS, Motion, plan  # noqa: E402
from actiseg_core.data.sim.packs import pack_dir  # noqa: E402
from actiseg_core.data.sim.placement import PlanningError  # noqa: E402
from actiseg_core.data.sim.scene import Scene, build_scene  # noqa: E402
from actiseg_core.data.sim.segmentation import Segmenter  # noqa: E402
from actiseg_core.data.sim.world import World  # noqa: E402

RESULTS = Path(__file__).parent / "results"
VISUAL_CHECK = "## Visual check"  # a hand-written section of the results file, kept when the table is rewritten
FRAMES = 10


def episode_for(
    label: str, seed: int, index: int, action: str | None = None
) -> tuple[EpisodeSpec, np.random.Generator]:
    """Episode ``index`` of ``seed``: a train-split draw with ``label`` as its embodiment (the first draw of
    ``action`` when given); returns its generator too, which planning goes on drawing from."""
    draw = 0
    while True:
        rng = np.random.default_rng([seed, index, draw])
        episode = sample_episode(rng, "train")
        if action is None or episode.action == action:
            return dataclasses.replace(episode, scene=dataclasses.replace(episode.scene, robot=label)), rng
        draw += 1


def success_rate(label: str, episodes: int, seed: int) -> tuple[int, float, dict[str, int]]:
    """Episodes performed out of ``episodes``, mean seconds to compile and plan one, and the actions that failed."""
    catalog = embodiments.embodiment_catalog()
    performed, seconds, failed = 0, [], {}
    for index in range(episodes):
        episode, rng = episode_for(label, seed, index)
        started = time.perf_counter()
        try:
            plan(World(build_scene(episode.scene, catalog)), episode, FRAMES, rng)
            performed += 1
        except PlanningError:
            failed[episode.action] = failed.get(episode.action, 0) + 1
        seconds.append(time.perf_counter() - started)
    return performed, float(np.mean(seconds)), failed


def _closeups(scene: Scene, qpos: np.ndarray, target: str) -> list[np.ndarray]:
    """Three views of the grasp frame around the target object, near enough to see the fingers."""
    model = scene.model
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_forward(model, data)
    option = visual_option()
    renderer = mujoco.Renderer(model, 320, 427)
    views = []
    try:
        for azimuth, elevation in ((180, -15), (90, -15), (135, -55)):
            camera = mujoco.MjvCamera()
            camera.type = mujoco.mjtCamera.mjCAMERA_FREE
            camera.lookat[:] = data.xpos[model.body(scene.object_roots[target]).id]
            camera.distance, camera.azimuth, camera.elevation = 0.32, azimuth, elevation
            renderer.update_scene(data, camera=camera, scene_option=option)
            views.append(renderer.render().copy())
    finally:
        renderer.close()
    return views


def contact_sheet(label: str, seed: int, out: Path) -> Path:
    """Plan one pick (the first of the seeded draws that plans), render it and write its contact sheet."""
    catalog = embodiments.embodiment_catalog()
    for index in range(10):
        episode, rng = episode_for(label, seed + 1000, index, action="pick")
        scene = build_scene(episode.scene, catalog)
        try:
            motion = plan(World(scene), episode, FRAMES, rng)
            break
        except PlanningError:
            continue
    else:
        raise PlanningError(f"{label}: no pick planned in 10 draws")
    grasp = grasp_frame(scene, motion, episode.target)
    shown = sorted({0, grasp - 1, grasp, len(motion.frames) - 1})
    indices = {name: k for k, name in enumerate(sorted(episode.names), start=1)}
    segmenter = Segmenter(scene, {lb: indices[lb] for lb in episode.names})
    images = render_frames(scene, episode.camera.mjv(), Motion([motion.frames[i] for i in shown], []), segmenter).images
    top = np.concatenate([np.asarray(Image.fromarray(im).resize((427, 240))) for im in images], axis=1)
    bottom = np.concatenate(_closeups(scene, motion.frames[grasp], episode.target), axis=1)
    width = max(top.shape[1], bottom.shape[1])
    pad = [np.zeros((a.shape[0], width - a.shape[1], 3), dtype=np.uint8) for a in (top, bottom)]
    sheet = np.concatenate([np.concatenate([top, pad[0]], 1), np.concatenate([bottom, pad[1]], 1)], axis=0)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{label}.png"
    Image.fromarray(sheet).save(path)
    return path


def grasp_frame(scene: Scene, motion: Motion, target: str) -> int:
    """The frame in which the fingers have closed on the target: the one before the target starts to rise."""
    adr = scene.model.joint(scene.object_joints[target]).qposadr[0]
    heights = [frame[adr + 2] for frame in motion.frames]
    return next(i for i in range(len(heights) - 1) if heights[i + 1] > heights[0] + 1e-4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sheets", type=Path, default=Path("/tmp/actiseg_embodiments"))
    parser.add_argument("--labels", default="", help="comma-separated labels (default: all)")
    parser.add_argument("--install-pack", action="store_true", help="download robosuite-models if not cached")
    args = parser.parse_args()

    if args.install_pack:
        pack_dir(embodiments.MODELS_PACK)
    labels = args.labels.split(",") if args.labels else [e.label for e in embodiments.V2_EMBODIMENTS]
    build_scene(episode_for("panda", 0, 0)[0].scene, embodiments.embodiment_catalog())  # imports out of the timing
    rows, skipped = [], []
    for label in labels:
        if embodiments.needs_pack(label) and not embodiments.pack_installed():
            skipped.append(label)
            continue
        performed, seconds, failed = success_rate(label, args.episodes, args.seed)
        sheet = contact_sheet(label, args.seed, args.sheets)
        entry = embodiments.embodiment(label)
        rows.append(
            (label, entry.robot, embodiments.gripper_class(label), embodiments.family(label), performed, seconds)
        )
        print(f"{label:22s} {performed}/{args.episodes}  {seconds:.2f} s  failed {failed}  sheet {sheet}", flush=True)

    lines = [
        "# ActiSeg-Sim v2 embodiments: planning success",
        "",
        f"Made by `python benchmarks/embodiments_v2.py --episodes {args.episodes} --seed {args.seed}` on "
        f"{machine()['cpu']} ({machine()['cores']} cores, shared). Each episode is a train-split draw (action"
        " pick / put / push / move, 3-5 v1 objects, textures, light, camera) with the embodiment put in; success:"
        f" `motion.plan` finds a placement whose every frame checks out within its {PLACEMENT_ATTEMPTS} placement"
        " attempts (IK within 4 mm / 0.04 rad, no penetration over 3 mm, fingers touching the grasped object)."
        f" Seconds: compiling the scene + planning {FRAMES} frames, one process.",
        "",
        "| label | robot | gripper | family | success | mean planning s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, robot, gripper, family, performed, seconds in rows:
        lines.append(f"| {label} | {robot} | {gripper} | {family} | {performed}/{args.episodes} | {seconds:.2f} |")
    if skipped:
        lines += ["", f"Not run (robosuite-models not in the asset cache): {', '.join(skipped)}."]
    lines += [
        "",
        f"Contact sheets: `{args.sheets}/<label>.png`, four frames of a pick from the episode camera above three"
        " close-ups of the grasp frame.",
    ]
    path = RESULTS / "embodiments_v2.md"
    kept = path.read_text(encoding="utf-8").split(VISUAL_CHECK, 1) if path.is_file() else []
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n" + (f"\n{VISUAL_CHECK}{kept[1]}" if len(kept) == 2 else "")
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
