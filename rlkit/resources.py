"""Memory: what a run will need, estimated from its config before anything is allocated,
against what the machine has.

Each agent estimates its big parts (``memory_bytes(env, config)`` in its module: the
network with its gradients and optimizer moments, counted on torch's ``meta`` device so
nothing is allocated; the rollout or replay buffer; a Q table); ``rlkit.launch`` adds the
environments (one more env made and measured, times ``n_envs``) and refuses a run whose
total passes 90% of ``MemAvailable``, naming the estimate, its largest part and the field
to lower.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from rlkit.errors import BadInput

Part = tuple[int, str]
"""``(bytes, what to lower)`` of one part of a run's memory."""

MIN_ENV_BYTES = 64 * 1024
"""The least one environment is counted as."""


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo`` (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def resident_bytes() -> int | None:
    """This process's resident memory (None where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:
        return None


def parameter_bytes(make: Callable[[], nn.Module], copies: int = 4) -> int:
    """Bytes of a network's parameters built by ``make()`` on the ``meta`` device (shapes
    only, nothing allocated), times ``copies`` (weights, gradients, two Adam moments)."""
    with torch.device("meta"):
        module = make()
    return copies * sum(p.numel() * p.element_size() for p in module.parameters())


def observation_bytes(space: Any) -> int:
    """Bytes of one observation of a Box space."""
    return int(np.prod(space.shape, dtype=np.int64)) * np.dtype(space.dtype).itemsize


def rollout_bytes(n_steps: int, n_envs: int, obs_space: Any, action_bytes: int = 8) -> int:
    """A rollout buffer of ``n_steps x n_envs`` steps: observations twice (the buffer and a
    minibatch's copy), actions, and a dozen float32 columns (log-probabilities, values,
    rewards, flags, advantages, returns)."""
    return n_steps * n_envs * (2 * observation_bytes(obs_space) + action_bytes + 12 * 4)


def check_fits(parts: Mapping[str, Part], what: str = "this run") -> None:
    """``BadInput`` when the parts add up to more than 90% of the available memory,
    naming the total, each part and the field to lower for the largest."""
    free = available_memory_bytes()
    total = sum(size for size, _ in parts.values())
    if free is None or total <= 0.9 * free:
        return
    largest = max(parts, key=lambda name: parts[name][0])
    shown = ", ".join(
        f"{name} {size / 1e9:.2f}" for name, (size, _) in parts.items() if size >= 1e7
    )
    raise BadInput(
        f"{what} needs about {total / 1e9:.2f} GB ({shown}) but only {free / 1e9:.2f} GB of "
        f"memory is available; {parts[largest][1]}"
    )
