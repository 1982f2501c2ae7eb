"""``ros2 launch actiseg_ros segment.launch.py`` for real, from a plain ``colcon build`` of what a fresh clone has.

The module builds once: the files git would hand a fresh clone (tracked, plus untracked ones not ignored) are
copied into a workspace outside the repository and built with a plain (copying, not symlinking) ``colcon build``,
so a file missing from the package's install rules, or a build output that only exists in the developer's tree,
fails here. The real ``launch`` / ``launch_ros`` / ``ros2`` CLI come from ../shared/ros2 (installed by
scripts/setup_env.sh into .venv/shared_ros2) or from a system ROS 2; without either the module is skipped.
Every launch runs on its own ROS_DOMAIN_ID, from a working directory outside the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from ros_support import DOMAINS

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
SHARED_ROS2 = VENV / "shared_ros2"  # where scripts/setup_env.sh installs ../shared/ros2
PACKAGE = "actiseg_ros"
NODE = "actiseg_segmenter"
MODEL = REPO / "models" / "default_int8"
PATH_VARIABLES = ("AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH", "COLCON_PREFIX_PATH", "PYTHONPATH", "LD_LIBRARY_PATH",
                  "PATH")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _launch_stack() -> tuple[str | None, str]:
    """("shared" | "system" | None, why): where the real launch stack comes from, checked by importing it."""
    local_setup = SHARED_ROS2 / "local_setup.bash"
    if local_setup.is_file() and (VENV / "bin" / "colcon").is_file():
        probe = subprocess.run(["bash", "-c", f'. "{local_setup}" && "{VENV}/bin/python" -c "import launch_ros"'],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            return "shared", ""
    ros2 = shutil.which("ros2")
    if ros2 and not Path(ros2).is_relative_to(VENV) and shutil.which("colcon"):  # e.g. /opt/ros/<distro>
        python = Path(ros2).read_text(errors="replace").splitlines()[0].removeprefix("#!").split()
        probe = subprocess.run([*python, "-c", "import launch_ros"], capture_output=True, text=True)
        if probe.returncode == 0:
            return "system", ""
    return None, ("no ROS 2 launch stack: neither ../shared/ros2 installed into .venv/shared_ros2 "
                  "(scripts/setup_env.sh does it when ../shared/ros2 exists) nor a system ROS 2 (ros2 and colcon "
                  "on PATH, launch_ros importable)")


STACK, SKIP_REASON = _launch_stack()
pytestmark = pytest.mark.skipif(STACK is None, reason=SKIP_REASON)


def _base_env() -> dict[str, str]:
    """This process's environment without the repository's own colcon build (install/, build/) on any path, so only
    the fresh workspace can provide actiseg_ros, and without a DDS transport choice (each test sets its own)."""
    env = dict(os.environ)
    own = (str(REPO / "install"), str(REPO / "build"))
    for name in PATH_VARIABLES:
        if name in env:
            kept = [entry for entry in env[name].split(":") if entry and not entry.startswith(own)]
            env[name] = ":".join(kept)
    env.pop("FASTDDS_BUILTIN_TRANSPORTS", None)
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    if STACK == "shared":
        env["VIRTUAL_ENV"] = str(VENV)
        env["PATH"] = f"{VENV / 'bin'}:{env.get('PATH', '')}"
        env["AMENT_PREFIX_PATH"] = ":".join(filter(None, [str(VENV), env.get("AMENT_PREFIX_PATH", "")]))
    return env


def _sourced(env: dict[str, str], scripts: list[Path]) -> dict[str, str]:
    """``env`` after sourcing colcon setup scripts, as a user's shell would, with empty path entries dropped."""
    sources = " && ".join(f'. "{script}"' for script in scripts)
    done = subprocess.run(["bash", "-c", f"{sources} && env -0"], env=env, capture_output=True, check=True)
    result = dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)
    for name in PATH_VARIABLES:
        if name in result:
            result[name] = ":".join(entry for entry in result[name].split(":") if entry)
    return result


def _fresh_clone_files() -> list[Path]:
    """What a clone of the current work would hold: tracked files plus untracked ones git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [Path(name) for name in listed if name and (REPO / name).is_file()]


class Workspace:
    """A colcon workspace with actiseg_ros built from fresh-clone sources, and the environment to run it in."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.share = root / "install" / PACKAGE / "share" / PACKAGE


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Copy, plain ``colcon build`` (the environment scripts/build_ros.sh uses), source: once per module."""
    root = tmp_path_factory.mktemp("launch") / "ws"
    source = root / "src" / PACKAGE
    for relative in _fresh_clone_files():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, source / relative)
    env = _base_env()
    prefixes = [SHARED_ROS2 / "local_setup.bash"] if STACK == "shared" else []
    build_env = _sourced(env, prefixes) if prefixes else dict(env)
    cmake_args = ["-DBUILD_TESTING=OFF"]
    if STACK == "shared":  # scripts/build_ros.sh's environment: the venv's ROS wheels, its interpreter
        build_env.pop("COLCON_PREFIX_PATH", None)
        cmake_args.append(f"-DPython3_EXECUTABLE={VENV / 'bin' / 'python'}")
    done = subprocess.run(["colcon", "build", "--event-handlers", "console_direct-", "--cmake-args", *cmake_args],
                          cwd=root, env=build_env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"colcon build failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    assert not (root / "install" / PACKAGE / "share" / PACKAGE / "launch" / "segment.launch.py").is_symlink()
    return Workspace(root, _sourced(env, [*prefixes, root / "install" / "setup.bash"]))


def test_the_plain_build_installs_every_file_the_package_ships(workspace: Workspace) -> None:
    """Every Python file of the three installed packages and every launch / config / model file reaches the install
    (copied, not linked). Checked file by file because the venv's editable install of the repository would
    otherwise quietly serve a module the install left out."""
    source = workspace.root / "src" / PACKAGE
    (site,) = (workspace.root / "install" / PACKAGE / "lib").glob("python3*/site-packages")
    missing = [str(path.relative_to(source)) for package in ("actiseg_ros", "actiseg_core", "training")
               for path in sorted((source / package).rglob("*.py"))
               if not (site / path.relative_to(source)).is_file()]
    for folder in ("launch", "config", "models"):
        for path in sorted((source / folder).rglob("*")):
            installed = workspace.share / path.relative_to(source)
            if path.is_file() and not (installed.is_file() and installed.stat().st_size == path.stat().st_size):
                missing.append(str(path.relative_to(source)))
    assert not missing, f"not installed by a plain colcon build: {missing}"


class Launch:
    """One ``ros2 launch actiseg_ros segment.launch.py ARGS`` in its own process group, its output collected as it
    comes. ``terminal``: stdin is a pseudo-terminal, so ros2 launch runs interactive, as typed in a shell (where a
    Ctrl-C reaches every process of the group and launch does not signal the node again); otherwise stdin is
    /dev/null, as under a service manager (which signals the launch process alone, and launch passes it on)."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str, launch_file: str | None = None,
                 terminal: bool = False) -> None:
        target = [launch_file] if launch_file else [PACKAGE, "segment.launch.py"]
        self.terminal: int | None = None
        stdin: int = subprocess.DEVNULL
        if terminal:
            self.terminal, stdin = os.openpty()
        self.process = subprocess.Popen(["ros2", "launch", *target, *args], cwd=cwd, env=env, text=True, stdin=stdin,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        if terminal:
            os.close(stdin)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(ANSI.sub("", line))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 60.0) -> bool:
        """Whether ``text`` appeared in the output before the launch ended or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output:
                return True
            if self.process.poll() is not None:
                self.reader.join(timeout=5)
                return text in self.output
            time.sleep(0.1)
        return False

    def node_pid(self) -> int:
        found = re.search(r"\[segment_node-1\]: process started with pid \[(\d+)\]", self.output)
        assert found, self.output
        return int(found.group(1))

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the launch to end by itself; return its exit status (a launch still running after ``timeout``
        fails the test with what it printed, so a hang can be read from the report)."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"launch still running {timeout:.0f} s later; it printed:\n{self.output}") from None
        self.reader.join(timeout=5)
        return code

    def interrupt(self, timeout: float = 60.0) -> int:  # a loaded 2-core CI machine shuts ROS down slowly
        """SIGINT as the launch's surroundings send it: to the whole process group from a terminal (Ctrl-C), to the
        launch process alone otherwise (``kill -INT``); return the launch's exit status."""
        if self.terminal is not None:
            os.killpg(self.process.pid, signal.SIGINT)
        else:
            self.process.send_signal(signal.SIGINT)
        return self.finish(timeout)

    def close(self) -> None:
        """Make sure nothing of this launch is left running (a failed test must not leave a node behind)."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        self.reader.join(timeout=5)
        if self.terminal is not None:
            os.close(self.terminal)
            self.terminal = None


@pytest.fixture(autouse=True, scope="module")
def _sigint_reaches_the_launch() -> Iterator[None]:
    """A shell starts a background job (``cmd &``, ``nohup``) with SIGINT ignored, and an ignored signal stays
    ignored across exec, so ``ros2 launch`` started from such a run never sees the Ctrl-C these tests send (the
    failures seen only under ``nohup``). A handler in this process is reset to the default in the children, as a
    terminal's processes have it."""
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def launches() -> Iterator[list[Launch]]:
    """Launches a test starts, all stopped afterwards whatever happened."""
    started: list[Launch] = []
    yield started
    for launch in started:
        launch.close()


def _env(workspace: Workspace, **extra: str) -> dict[str, str]:
    return {**workspace.env, "ROS_DOMAIN_ID": str(next(DOMAINS)), "OMP_NUM_THREADS": "1", **extra}


def _process_environment(pid: int) -> dict[str, str]:
    """The environment a running process was started with (Linux /proc)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _no_traceback(output: str) -> None:
    assert "Traceback" not in output, output


# A client in one process: waits until the node's subscriptions and its answer publisher are matched, sends a
# narration and then FRAMES camera images, and prints what came back on ANSWERS.
CLIENT = r'''
import json
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image

from actiseg_ros.msg import ActionNarration, ActiveObjects
from actiseg_ros.probe import image_message, narration_message, pattern_image

image_topic, narration_topic, answer_topic, frames = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rclpy.init()
node = Node("actiseg_launch_test_client")
answers = []


def on_answer(answer):
    if "camera_silent" not in answer.gate.reasons:  # the node's watchdog between frames, not a frame's answer
        answers.append(answer)


answer_sub = node.create_subscription(ActiveObjects, answer_topic, on_answer, QoSProfile(depth=50))
images = node.create_publisher(Image, image_topic, qos_profile_sensor_data)
narrations = node.create_publisher(ActionNarration, narration_topic, QoSProfile(depth=10))
deadline = time.monotonic() + 30
while not (images.get_subscription_count() and narrations.get_subscription_count()
           and answer_sub.get_publisher_count()):
    if time.monotonic() > deadline:
        print(json.dumps({"matched": False}))
        sys.exit(3)
    rclpy.spin_once(node, timeout_sec=0.05)
narrations.publish(narration_message("take the cup", ["cup", "plate"]))
end = time.monotonic() + 1.0  # the narration is handled before the first frame comes
while time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.05)
for index in range(frames):
    images.publish(image_message(pattern_image(120, 160, index)))
    end = time.monotonic() + 0.25
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
end = time.monotonic() + 15
while len(answers) < frames and time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.05)
print(json.dumps({"matched": True, "answers": [
    {"frame_id": a.header.frame_id, "names": list(a.object_names), "reasons": list(a.gate.reasons),
     "mask": [a.mask.height, a.mask.width, a.mask.encoding]} for a in answers]}))
'''


def test_arguments_remap_the_topics_and_ctrl_c_ends_it_cleanly(workspace: Workspace, launches: list[Launch],
                                                                tmp_path: Path) -> None:
    """Namespace and topic arguments take effect: frames sent to the remapped camera and narration topics come back
    on the namespaced answer topic; with no model_dir argument the installed default model runs; the node process
    gets the LARGE_DATA transports; Ctrl-C ends the launch with status 0 and no traceback."""
    frames = 8
    for attempt in (1, 2):  # one retry on a fresh domain: Fast DDS leaves a participant unmatched now and then
        env = _env(workspace)
        launch = Launch(env, tmp_path, "namespace:=robot", "image_topic:=/camera/image_raw",
                        "narration_topic:=/speech/narration", terminal=True)
        launches.append(launch)
        assert launch.wait_for("ready: model", timeout=90), launch.output
        client = subprocess.run([sys.executable, "-c", CLIENT, "/camera/image_raw", "/speech/narration",
                                 "/robot/active_objects", str(frames)], cwd=tmp_path, timeout=120,
                                env={**env, "FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA"}, capture_output=True,
                                text=True)
        report = json.loads(client.stdout.strip().splitlines()[-1]) if client.stdout.strip() else {}
        if (report.get("matched") and report["answers"]) or attempt == 2:
            break
        launch.close()
    assert client.returncode == 0 and report.get("matched"), (client.stdout, client.stderr, launch.output)
    answers = report["answers"]
    assert frames // 2 <= len(answers) <= frames, (answers, launch.output)
    for answer in answers:
        assert answer["frame_id"] == "probe_camera", answer
        assert answer["mask"] == [120, 160, "mono8"] or "no_narration" in answer["reasons"], answer
    # The narration came through its remapped topic: the frames after it were segmented for its objects.
    assert answers[-1]["names"] == ["cup", "plate"] and answers[-1]["mask"] == [120, 160, "mono8"], answers
    ready = next(line for line in launch.lines if "ready: model" in line)
    assert "[robot.actiseg_segmenter]" in ready and "onnxruntime" in ready, ready
    # No model_dir argument: the installed params file's default (auto: the folder for this CPU), found in the
    # installed share folder.
    from actiseg_core.runtime.cpu import cpu_flags, fast_int8_flag

    folder = "default_int8" if fast_int8_flag(cpu_flags()) else "default"
    assert f"ready: model {workspace.share / 'models' / folder} " in ready, ready
    node_pid = launch.node_pid()
    assert _process_environment(node_pid).get("FASTDDS_BUILTIN_TRANSPORTS") == "LARGE_DATA"
    code = launch.interrupt()
    assert code == 0, launch.output
    _no_traceback(launch.output)
    assert not _alive(node_pid), "the node outlived its launch"


def test_params_file_values_hold_unless_an_argument_is_given(workspace: Workspace, launches: list[Launch],
                                                             tmp_path: Path) -> None:
    """A params file's own model_dir, use_sim_time and max_rate_hz reach the node when no argument names them; an
    argument given (backend) overrides the file's value; a user's own FASTDDS_BUILTIN_TRANSPORTS is kept."""
    model = tmp_path / "my_model"
    shutil.copytree(MODEL, model)
    params = yaml.safe_load((REPO / "config" / "segment.yaml").read_text())
    params["/**"]["ros__parameters"].update(model_dir=str(model), use_sim_time=True, max_rate_hz=7.5,
                                            backend="not_a_backend")
    params_file = tmp_path / "robot.yaml"
    params_file.write_text(yaml.safe_dump(params))
    dumped: dict = {}
    for attempt in (1, 2):  # one retry on a fresh domain, as above
        env = _env(workspace, FASTDDS_BUILTIN_TRANSPORTS="UDPv4")
        launch = Launch(env, tmp_path, f"params_file:={params_file}", "backend:=onnxruntime")
        launches.append(launch)
        assert launch.wait_for("ready: model", timeout=90), launch.output
        done = subprocess.run(["ros2", "param", "dump", "--no-daemon", "--timeout", "20", f"/{NODE}"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=90)
        if done.returncode == 0 and done.stdout.strip():
            dumped = yaml.safe_load(done.stdout)[f"/{NODE}"]["ros__parameters"]
            break
        if attempt == 1:
            launch.close()
    assert dumped, (done.stdout, done.stderr, launch.output)
    assert dumped["model_dir"] == str(model)
    assert dumped["use_sim_time"] is True
    assert dumped["max_rate_hz"] == 7.5
    assert dumped["backend"] == "onnxruntime"
    assert f"ready: model {model} " in launch.output, launch.output
    assert _process_environment(launch.node_pid()).get("FASTDDS_BUILTIN_TRANSPORTS") == "UDPv4"
    assert launch.interrupt() == 0, launch.output
    _no_traceback(launch.output)


PARENT_LAUNCH = '''
import json
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription, OpaqueFunction
from launch.launch_description_sources import PythonLaunchDescriptionSource

from launch import LaunchDescription


def report(context):
    seen = {name: context.launch_configurations.get(name) for name in
            ("params_file", "model_dir", "backend", "use_sim_time", "image_topic", "namespace")}
    seen["FASTDDS_BUILTIN_TRANSPORTS"] = os.environ.get("FASTDDS_BUILTIN_TRANSPORTS")
    print("PARENT SEES " + json.dumps(seen), flush=True)


def generate_launch_description():
    child = os.path.join(get_package_share_directory("actiseg_ros"), "launch", "segment.launch.py")
    return LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(child),
                                 launch_arguments={"model_dir": MISSING_MODEL_DIR}.items()),
        OpaqueFunction(function=report),
    ])
'''


def test_a_parent_launch_sees_none_of_its_arguments_or_environment(workspace: Workspace, launches: list[Launch],
                                                                   tmp_path: Path) -> None:
    """Including segment.launch.py leaves the parent's launch configurations and environment as they were (only
    what the parent passed itself is there); the included node failing still fails the whole launch."""
    missing = tmp_path / "no_model"
    parent = tmp_path / "parent.launch.py"
    parent.write_text(PARENT_LAUNCH.replace("MISSING_MODEL_DIR", repr(str(missing))))
    launch = Launch(_env(workspace), tmp_path, launch_file=str(parent))
    launches.append(launch)
    code = launch.finish(timeout=90)
    seen_line = next((line for line in launch.lines if "PARENT SEES " in line), None)
    assert seen_line is not None, launch.output
    seen = json.loads(seen_line.split("PARENT SEES ", 1)[1])
    assert seen == {"params_file": None, "model_dir": str(missing), "backend": None, "use_sim_time": None,
                    "image_topic": None, "namespace": None, "FASTDDS_BUILTIN_TRANSPORTS": None}, seen
    assert code != 0 and "model folder not found" in launch.output, launch.output


def test_missing_params_file_is_one_clear_line_and_a_failed_launch(workspace: Workspace, launches: list[Launch],
                                                                   tmp_path: Path) -> None:
    """``params_file:=/missing.yaml`` stops the launch before any node starts, with one error line naming it."""
    missing = tmp_path / "missing.yaml"
    launch = Launch(_env(workspace), tmp_path, f"params_file:={missing}")
    launches.append(launch)
    code = launch.finish(timeout=60)
    errors = [line for line in launch.lines if "[ERROR]" in line]
    assert code != 0, launch.output
    assert len(errors) == 1 and f"params_file not found: {missing}" in errors[0], launch.output
    assert "process started" not in launch.output, launch.output
    _no_traceback(launch.output)


def test_missing_model_folder_is_one_clear_line_and_a_failed_launch(workspace: Workspace, launches: list[Launch],
                                                                    tmp_path: Path) -> None:
    """A model folder that does not exist: the node says so in one line, exits, and the launch fails with it."""
    missing = tmp_path / "nothing_here"
    launch = Launch(_env(workspace), tmp_path, f"model_dir:={missing}")
    launches.append(launch)
    code = launch.finish(timeout=60)
    assert code != 0, launch.output
    named = [line for line in launch.lines if "model folder not found" in line]
    assert len(named) == 1 and str(missing) in named[0], launch.output
    _no_traceback(launch.output)
