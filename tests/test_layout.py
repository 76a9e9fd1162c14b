"""The layers and import direction of docs/design.md, and the config files, checked on the
source tree.

Every import of every module counts, function-local ones included. The layers, bottom up:

* foundation: ``rlkit.*`` apart from the rest below (nn, losses, optim, data, logging, ...);
* ``rlkit.envs``: imports the foundation only;
* ``rlkit.agents``: the foundation and envs; no agent imports another;
* the library layer (``rlkit`` itself, ``rlkit.api``, ``rlkit.launch``, ``rlkit.sb3``,
  ``rlkit.sweep.study``, ``rlkit.sweep.report``): anything but the CLI;
* ``rlkit.cli`` (and ``rlkit.__main__``, ``python -m rlkit``): on top.

And no two modules import each other, directly or around a longer circle.
"""

import ast
import importlib
from pathlib import Path

import pytest

from rlkit.agents import ALGORITHMS
from rlkit.config import load_config

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"rlkit": "rlkit", "agents": "rlkit.agents", "envs": "rlkit.envs"}
LIBRARY = {
    "rlkit",
    "rlkit.api",
    "rlkit.launch",
    "rlkit.sb3",
    "rlkit.sweep.study",
    "rlkit.sweep.report",
    "rlkit.sweep.seeds",
    "rlkit.sweep.gather",
}


def module_files() -> dict[str, Path]:
    """Every module of the installed package, by its dotted name."""
    modules = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The first-party modules ``path`` imports anywhere in it (function bodies included);
    ``from a import b`` names ``a.b`` when that is a module, else ``a``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def layer(name: str) -> str:
    if name.startswith("rlkit.cli") or name == "rlkit.__main__":
        return "cli"
    if name in LIBRARY:
        return "library"
    if name.startswith("rlkit.agents"):
        return "agents"
    if name.startswith("rlkit.envs"):
        return "envs"
    return "foundation"


ALLOWED = {
    "foundation": {"foundation"},
    "envs": {"foundation", "envs"},
    "agents": {"foundation", "envs", "agents"},
    "library": {"foundation", "envs", "agents", "library"},
    "cli": {"foundation", "envs", "agents", "library", "cli"},
}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_another_in_a_circle():
    assert cycles(import_graph()) == []


def test_each_layer_imports_only_from_below():
    wrong = [
        (name, target)
        for name, targets in import_graph().items()
        for target in targets
        if layer(target) not in ALLOWED[layer(name)]
    ]
    assert wrong == []


def test_no_agent_imports_another():
    for name, targets in import_graph().items():
        if layer(name) == "agents" and name != "rlkit.agents":
            others = {t for t in targets if layer(t) == "agents" and t != "rlkit.agents"}
            assert others <= {name}, (name, others)


def test_the_checks_above_can_fail(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("def f():\n    from rlkit.agents.dqn import train\n    import rlkit.envs.make\n")
    known = {"rlkit.agents.dqn", "rlkit.envs.make", "rlkit.envs", "rlkit.nn"}
    assert imports_of("rlkit.nn.x", a, known) == {"rlkit.agents.dqn", "rlkit.envs.make"}
    assert layer("rlkit.nn.x") == "foundation" and "agents" not in ALLOWED["foundation"]
    circle = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(circle) == [["a", "b", "c"]]
    relative = tmp_path / "__init__.py"
    relative.write_text("from .make import make_env\nfrom . import chain\n")
    graph = imports_of(
        "rlkit.envs", relative, {"rlkit.envs.make", "rlkit.envs.chain", "rlkit.envs"}
    )
    assert graph == {"rlkit.envs.make", "rlkit.envs.chain"}


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
    from rlkit.envs import env_ids

    ids = {i.replace("/", "-") for i in env_ids(include_atari=True)}
    env_id, _, variant = path.stem.partition(".")  # <env-id>.<variant>.yaml: a preset
    assert env_id in ids, f"{env_id} is not a registered env id"
    assert variant in ("", "batched", "rainbow", "qr", "qr-nstep"), f"unknown preset {variant!r}"
