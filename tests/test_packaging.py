"""The built distribution installs one top-level package, ``rlkit``.

The folders ``agents/`` and ``envs/`` stay at the top of the repository and install as
``rlkit.agents`` and ``rlkit.envs``; ``configs/`` ships as ``rlkit/configs`` (names such as
``agents`` and ``envs`` are taken by other packages: installing both must not break one).
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(tmp_path: Path) -> list[str]:
    """Build the wheel from a copy of the sources (nothing written into the checkout)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("rlkit", "agents", "envs", "configs"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel).namelist()


def test_the_wheel_has_one_top_level_package_holding_every_module(tmp_path):
    names = build_wheel(tmp_path)
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"rlkit"}
    expected = set()
    for folder, package in (("rlkit", "rlkit"), ("agents", "rlkit/agents"), ("envs", "rlkit/envs")):
        for path in (ROOT / folder).rglob("*.py"):
            expected.add(f"{package}/{path.relative_to(ROOT / folder).as_posix()}")
    for path in (ROOT / "configs").glob("*/*.yaml"):
        expected.add(f"rlkit/configs/{path.relative_to(ROOT / 'configs').as_posix()}")
    for path in (ROOT / "envs" / "kernels").glob("*.c"):  # the native kernels' sources
        expected.add(f"rlkit/envs/kernels/{path.name}")
    for path in (ROOT / "rlkit" / "data" / "kernels").glob("*.c"):
        expected.add(f"rlkit/data/kernels/{path.name}")
    assert {"rlkit/envs/kernels/cartpole.c", "rlkit/data/kernels/sumtree.c"} <= expected
    assert expected - set(names) == set()
    assert not {n for n in names if n.startswith(("agents/", "envs/", "configs/"))}
