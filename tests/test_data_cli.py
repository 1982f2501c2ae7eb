"""``actiseg-data`` as a user runs it: one-line errors with a non-zero exit, statistics on real layouts."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "visor_mini"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "actiseg_core.data_cli", *args], capture_output=True, text=True, timeout=120
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["render", "--out", "x", "--split", "bogus", "--clips", "2"], "unknown split 'bogus'"),
        (["render", "--out", "x", "--split", "test_novel_class", "--clips", "2"], "unknown split"),
        (["render", "--out", "x", "--version", "v2", "--split", "tset", "--clips", "2"], "unknown v2 split 'tset'"),
        (["render", "--out", "x", "--version", "v3", "--split", "train"], "invalid choice"),
        (["render", "--out", "x", "--split", "train", "--clips", "0"], "positive integer"),
        (["render", "--out", "x", "--split", "train", "--clips", "two"], "positive integer"),
        (["corrupt", "--root", "r", "--out", "o", "--text-rate", "1.5"], "[0, 1]"),
        (["stats"], "required"),
        (["render", "--out", "x", "--split", "val", "--clips", "2", "--seed", "-1"], "non-negative"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_get_one_line(args: list[str], fragment: str):
    assert_one_line_error(run_cli(*args), fragment)


def test_stats_on_the_visor_layout_fixture(tmp_path: Path):
    out = tmp_path / "stats.json"
    result = run_cli("stats", str(FIXTURE), "--splits", "val", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "object queries 16: 10 active" in result.stdout
    stats = json.loads(out.read_text())["val"]
    assert stats["frames"] == 4 and stats["visible_negative_queries"] == 3


def test_missing_and_corrupt_files_are_named(tmp_path: Path):
    root = tmp_path / "root"
    shutil.copytree(FIXTURE, root)
    mask = next((root / "Annotations_Sparse").rglob("*.png"))
    mask.write_bytes(b"garbage")
    assert_one_line_error(run_cli("stats", str(root), "--splits", "val"), str(mask), "corrupt mask")
    mask.unlink()
    assert_one_line_error(run_cli("stats", str(root), "--splits", "val"), str(mask), "missing")
    (root / "ImageSets" / "val.json").write_text("[")
    assert_one_line_error(run_cli("stats", str(root), "--splits", "val"), "val.json", "corrupt JSON")
    assert_one_line_error(run_cli("stats", str(tmp_path / "nowhere"), "--splits", "val"), "not found")


def test_preview_writes_a_contact_sheet(tmp_path: Path):
    from PIL import Image

    out = tmp_path / "sheet.png"
    result = run_cli("preview", str(FIXTURE), "--split", "val", "--out", str(out), "--count", "2")
    assert result.returncode == 0, result.stderr
    with Image.open(out) as sheet:
        assert sheet.width == 1200 and sheet.height > 2 * 300
