"""DESIGN.md's import direction and config files, checked on the source tree."""

import ast
import importlib
from pathlib import Path

import pytest

from agents import ALGORITHMS
from rlkit.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def imported_top_modules(path: Path) -> set[str]:
    """Every module name a file imports (absolute imports), dotted."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_rlkit_outside_cli_imports_neither_agents_nor_envs():
    for path in python_files("rlkit"):
        if "cli" in path.relative_to(ROOT / "rlkit").parts:
            continue
        tops = {m.split(".")[0] for m in imported_top_modules(path)}
        assert not tops & {"agents", "envs"}, path


def test_envs_never_import_agents():
    for path in python_files("envs"):
        tops = {m.split(".")[0] for m in imported_top_modules(path)}
        assert "agents" not in tops, path


def test_no_agent_imports_another():
    for path in python_files("agents"):
        if path.name == "__init__.py":
            continue
        own = "agents." + path.relative_to(ROOT / "agents").parts[0].removesuffix(".py")
        for name in imported_top_modules(path):
            if name == "agents" or name.startswith("agents."):
                assert name == own or name.startswith(own + "."), (path, name)


def test_the_checks_above_can_fail(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("from agents.dqn import train\nimport envs.make\n")
    assert {m.split(".")[0] for m in imported_top_modules(bad)} == {"agents", "envs"}


CONFIGS = sorted((ROOT / "configs").glob("*/*.yaml"))


def test_there_are_config_files():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_config_file_loads(path):
    algo = path.parent.name
    assert algo in ALGORITHMS, f"configs/{algo} is not an algorithm"
    agent = importlib.import_module(ALGORITHMS[algo])
    config, run_keys = load_config(agent.Config, path)
    assert isinstance(config, agent.Config)
    assert set(run_keys) <= {"seed", "device"}
    from envs import env_ids

    ids = {i.replace("/", "-") for i in env_ids(include_atari=True)}
    assert path.stem in ids, f"{path.stem} is not a registered env id"
