"""Environments for rlkit: one ``make_env`` for every Gymnasium id, tabular MDPs, gridworlds.

Importing ``envs`` registers rlkit's own ids (``rlkit/GridWorld5x5-v0``, ``rlkit/Chain-v0``,
``rlkit/CartPoleNoVel-v1``, ``rlkit/PendulumNoVel-v1``). This package
imports ``rlkit`` only, never ``agents``.
"""

from envs.chain import ChainEnv
from envs.gridworld import GridWorldEnv
from envs.make import check_env_id, describe_space, env_ids, make_env
from envs.novel import KeepObservation
from envs.tabular import TabularMDP, check_plannable, is_tabular, require_tabular
from envs.vector import finished_episodes, make_vector_env

__all__ = [
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
