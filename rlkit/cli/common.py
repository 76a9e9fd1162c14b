"""What the CLI commands share: finding agents, devices, configs and envs."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import torch

from agents import ALGORITHMS
from rlkit.errors import BadInput, unknown

DEVICES = ("auto", "cpu", "cuda")


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """One line: the error and where to look for help."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def load_agent(algo: str) -> ModuleType:
    """The agent module of an algorithm name, or ``BadInput`` naming the valid ones."""
    if algo not in ALGORITHMS:
        raise unknown("algorithm", algo, ALGORITHMS, show_all=True)
    return importlib.import_module(ALGORITHMS[algo])


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` without a GPU is bad input."""
    if name not in DEVICES:
        raise unknown("device", name, DEVICES, show_all=True)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BadInput(
            "--device cuda asked for, but torch sees no CUDA GPU; use --device cpu or auto"
        )
    return torch.device(name)


def config_search_paths() -> list[Path]:
    """Folders searched for ``configs/<algo>/<env>.yaml``: the working dir, then the checkout."""
    here = Path(__file__).resolve().parents[2] / "configs"
    return [Path("configs"), here]


def default_config_path(algo: str, env_id: str) -> Path | None:
    """``configs/<algo>/<env-id>.yaml`` (``/`` in the id becomes ``-``) if it exists."""
    name = env_id.replace("/", "-") + ".yaml"
    for folder in config_search_paths():
        path = folder / algo / name
        if path.is_file():
            return path
    return None


def fail(message: str, code: int) -> int:
    """Print ``rlkit: error: message`` on stderr and return ``code``."""
    print(f"rlkit: error: {message}", file=sys.stderr)
    return code


def env_factory(env_id: str, env_kwargs: dict[str, Any], **defaults: Any):
    """``make_env(seed=None, **kwargs)`` for one env id, its configured kwargs and defaults."""
    from envs import make_env

    def make(seed: int | None = None, **kwargs: Any):
        return make_env(env_id, seed=seed, **{**defaults, **env_kwargs, **kwargs})

    return make
