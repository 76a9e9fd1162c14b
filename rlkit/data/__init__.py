"""Experience storage: the replay buffer (DQN) and the rollout buffer (policy gradient)."""

from rlkit.data.replay import Batch, ReplayBuffer
from rlkit.data.returns import discounted_returns, gae
from rlkit.data.rollout import RolloutBatch, RolloutBuffer
from rlkit.data.sumtree import SumTree

__all__ = [
    "Batch",
    "ReplayBuffer",
    "RolloutBatch",
    "RolloutBuffer",
    "SumTree",
    "discounted_returns",
    "gae",
]
