"""One seed makes every generator a run uses.

``make_rngs(seed)`` derives independent streams with ``numpy.random.SeedSequence``
so that, for example, the environment's seed and the network's initial weights are
not correlated. Code takes the generator it needs from the returned ``Rngs``; nothing
in rlkit reads global random state. The globals of ``random``, ``numpy`` and ``torch``
are seeded too, only so that third-party code (e.g. Stable-Baselines3) that does read
them is reproducible as well.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Rngs:
    """The generators of one run, all derived from ``seed``."""

    seed: int
    """The run seed they came from."""
    python: random.Random
    """For Python-level choices."""
    numpy: np.random.Generator
    """For exploration, sampling minibatches, shuffling."""
    torch: torch.Generator
    """For torch sampling on the CPU (e.g. weight initialisation)."""
    env_seed: int
    """Seed for the first ``env.reset``; vector envs use ``env_seed + i``."""
    eval_seed: int
    """Seed for evaluation environments (kept apart from the training env)."""


def make_rngs(seed: int, seed_globals: bool = True) -> Rngs:
    """Make every generator of a run from one integer ``seed``."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    seed = int(seed)
    children = np.random.SeedSequence(seed).spawn(5)
    py_seed, np_seed, torch_seed, env_seed, eval_seed = (
        int(c.generate_state(1, dtype=np.uint32)[0]) for c in children
    )
    if seed_globals:
        random.seed(py_seed)
        np.random.seed(np_seed)
        torch.manual_seed(torch_seed)
    return Rngs(
        seed=seed,
        python=random.Random(py_seed),
        numpy=np.random.default_rng(children[1]),
        torch=torch.Generator().manual_seed(torch_seed),
        env_seed=env_seed,
        eval_seed=eval_seed,
    )
