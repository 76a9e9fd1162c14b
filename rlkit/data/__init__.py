"""Experience storage: the replay buffer (DQN) and, later, rollout buffers (policy gradient)."""

from rlkit.data.replay import Batch, ReplayBuffer
from rlkit.data.returns import discounted_returns, gae
from rlkit.data.sumtree import SumTree

__all__ = ["Batch", "ReplayBuffer", "SumTree", "discounted_returns", "gae"]
