"""Environments for rlkit: one ``make_env`` for every Gymnasium id, tabular MDPs, gridworlds.

Importing ``envs`` registers rlkit's own ids (``rlkit/GridWorld5x5-v0``, ``rlkit/Chain-v0``). This package
imports ``rlkit`` only, never ``agents``.
"""

from envs.chain import ChainEnv
from envs.gridworld import GridWorldEnv
from envs.make import check_env_id, describe_space, env_ids, make_env
from envs.tabular import TabularMDP, check_plannable, is_tabular, require_tabular

__all__ = [
    "ChainEnv",
    "GridWorldEnv",
    "TabularMDP",
    "check_env_id",
    "check_plannable",
    "describe_space",
    "env_ids",
    "is_tabular",
    "make_env",
    "require_tabular",
]
