"""Environments for rlkit: one ``make_env`` for every Gymnasium id, tabular MDPs, gridworlds.

Importing ``rlkit.envs`` registers rlkit's own ids (``rlkit/GridWorld5x5-v0``, ``rlkit/Chain-v0``,
``rlkit/CartPoleNoVel-v1``, ``rlkit/PendulumNoVel-v1``). This package
imports rlkit's foundation only, never ``rlkit.agents`` (docs/design.md, "Layers").
"""

from rlkit.envs.chain import ChainEnv
from rlkit.envs.gridworld import GridWorldEnv
from rlkit.envs.make import check_env_id, describe_space, env_ids, make_env
from rlkit.envs.novel import KeepObservation
from rlkit.envs.tabular import TabularMDP, check_plannable, is_tabular, require_tabular
from rlkit.envs.vector import (
    BACKENDS,
    FirstEnv,
    finished_episodes,
    make_backend_vector_env,
    make_vector_env,
)

__all__ = [
    "BACKENDS",
    "FirstEnv",
    "make_backend_vector_env",
    "ChainEnv",
    "GridWorldEnv",
    "KeepObservation",
    "TabularMDP",
    "check_env_id",
    "check_plannable",
    "describe_space",
    "env_ids",
    "finished_episodes",
    "is_tabular",
    "make_env",
    "make_vector_env",
    "require_tabular",
]
