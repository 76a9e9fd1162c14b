"""Returns and GAE(lambda) over rollouts of vector envs, with truncation done right.

Arrays are ``(T, N)``: T steps of N environments. ``ended[t]`` marks the last step of
an episode (terminated or truncated); ``terminated[t]`` a true end (no future value).
``next_values[t]`` is V of the observation after step t: the next step's observation
inside an episode, and at a truncation the *final* observation of the episode (the
next row already belongs to a new episode), so a time limit bootstraps instead of
pretending the episode ended.

    G_t     = r_t + gamma (1 - term_t) * (next_value_t  if ended_t  else G_(t+1))
    delta_t = r_t + gamma (1 - term_t) next_value_t - V_t
    A_t     = delta_t + gamma lambda (1 - ended_t) A_(t+1)

The last row bootstraps from ``next_values[T-1]`` (V of the observation after the rollout).
"""

from __future__ import annotations

import torch


def discounted_returns(
    rewards: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    ended: torch.Tensor,
    gamma: float,
) -> torch.Tensor:
    """Discounted returns-to-go, bootstrapped at truncations and after the last step."""
    returns = torch.empty_like(rewards)
    future = next_values[-1]  # what follows the last step
    for t in range(rewards.shape[0] - 1, -1, -1):
        follow = torch.where(ended[t].bool(), next_values[t], future)
        future = rewards[t] + gamma * (1.0 - terminated[t].float()) * follow
        returns[t] = future
    return returns


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    ended: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimates (Schulman et al. 2016) and the returns ``A + V``."""
    deltas = rewards + gamma * (1.0 - terminated.float()) * next_values - values
    advantages = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = deltas[t] + gamma * lam * (1.0 - ended[t].float()) * running
        advantages[t] = running
    return advantages, advantages + values
