"""Tabular MDPs: ``P[S, A, S']``, ``R[S, A]``, terminal transitions, initial distribution.

Built from any toy-text env exposing ``env.unwrapped.P`` (FrozenLake, Taxi,
CliffWalking, rlkit's GridWorld) or generated at random for benchmarks. Stored sparse:
each state-action keeps its K successors, so memory is ``O(S * A * K)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from rlkit.bellman import TabularModel, check_solvable
from rlkit.distributional import Transitions
from rlkit.envs.make import describe_space
from rlkit.errors import BadInput


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP in padded-sparse form.

    ``successors[s, a, k]`` is reached from ``(s, a)`` with probability ``probs[s, a, k]``;
    ``done[s, a, k]`` says that this transition ends the episode (a terminal
    transition: its reward counts, no value follows). ``rewards[s, a]`` is the expected
    immediate reward. Padding entries have probability 0.
    """

    successors: np.ndarray
    """(S, A, K) int64."""
    probs: np.ndarray
    """(S, A, K) float64; each (s, a) row sums to 1."""
    done: np.ndarray
    """(S, A, K) bool: the transition ends the episode."""
    rewards: np.ndarray
    """(S, A) float64: expected immediate reward."""
    initial: np.ndarray
    """(S,) float64: initial-state distribution."""
    transition_rewards: np.ndarray | None = None
    """(S, A, K) float64: the reward of each transition (None: ``rewards[s, a]`` on every
    transition of ``(s, a)``). Return distributions need it; expected values do not."""

    @property
    def n_states(self) -> int:
        """S."""
        return self.rewards.shape[0]

    @property
    def n_actions(self) -> int:
        """A."""
        return self.rewards.shape[1]

    @property
    def P(self) -> np.ndarray:  # noqa: N802 - the textbook name
        """Dense transition tensor ``P[S, A, S']`` (small MDPs only)."""
        return self._dense(self.probs)

    @property
    def terminal(self) -> np.ndarray:
        """Dense ``[S, A, S']`` mask of transitions that end the episode."""
        return self._dense(self.probs * self.done) > 0

    @property
    def terminal_states(self) -> np.ndarray:
        """(S,) bool: states entered only through terminal transitions."""
        ended = np.zeros(self.n_states, bool)
        cont = np.zeros(self.n_states, bool)
        live = self.probs > 0
        np.logical_or.at(ended, self.successors[live & self.done], True)
        np.logical_or.at(cont, self.successors[live & ~self.done], True)
        return ended & ~cont

    def _dense(self, values: np.ndarray) -> np.ndarray:
        if self.n_states > 20_000:
            raise MemoryError(
                f"a dense P of {self.n_states:,} states does not fit; use the sparse fields"
            )
        out = np.zeros((self.n_states, self.n_actions, self.n_states))
        s, a, _ = np.indices(self.successors.shape)
        np.add.at(out, (s, a, self.successors), values)
        return out

    def model(self, device: str = "cpu") -> TabularModel:
        """The torch model of the Bellman operators (continuation kernel + rewards)."""
        return TabularModel.from_arrays(
            self.successors, self.probs * ~self.done, self.rewards, device=device
        )

    def transitions(self, device: str = "cpu") -> Transitions:
        """The MDP transition by transition, for distributional dynamic programming
        (``rlkit.distributional``)."""
        rewards = self.transition_rewards
        if rewards is None:
            rewards = np.broadcast_to(self.rewards[..., None], self.successors.shape)
        return Transitions(
            torch.as_tensor(self.successors, device=device),
            torch.as_tensor(self.probs, dtype=torch.float64, device=device),
            torch.as_tensor(np.ascontiguousarray(rewards), dtype=torch.float64, device=device),
            torch.as_tensor(self.done, device=device),
        )

    # ------------------------------------------------------------ constructors

    @classmethod
    def from_env(cls, env: gym.Env) -> TabularMDP:
        """Read ``env.unwrapped.P`` (the toy-text convention) into a ``TabularMDP``.

        ``P[s][a]`` is a list of ``(prob, next_state, reward, terminated)``.
        """
        base = env.unwrapped
        if not is_tabular(env):
            raise TypeError(
                f"{env.spec.id if env.spec else type(base).__name__} is not tabular: it needs "
                "Discrete observation and action spaces and a transition table env.unwrapped.P"
            )
        n_states = int(env.observation_space.n)
        n_actions = int(env.action_space.n)
        table = base.P
        k = max(len(table[s][a]) for s in range(n_states) for a in range(n_actions))
        succ = np.zeros((n_states, n_actions, k), np.int64)
        prob = np.zeros((n_states, n_actions, k))
        done = np.zeros((n_states, n_actions, k), bool)
        rew = np.zeros((n_states, n_actions))
        each = np.zeros((n_states, n_actions, k))
        for s in range(n_states):
            for a in range(n_actions):
                for i, (p, s2, r, d) in enumerate(table[s][a]):
                    succ[s, a, i], prob[s, a, i], done[s, a, i] = s2, p, d
                    rew[s, a] += p * r
                    each[s, a, i] = r
                # self-loops of probability 0 as padding keep the row valid
                succ[s, a, len(table[s][a]) :] = s
        initial = getattr(base, "initial_state_distrib", None)
        if initial is None:
            initial = _initial_from_resets(env)
        return cls(succ, prob, done, rew, np.asarray(initial, np.float64), each)

    @classmethod
    def random(
        cls,
        n_states: int,
        n_actions: int = 4,
        n_successors: int = 3,
        seed: int = 0,
    ) -> TabularMDP:
        """A random continuing MDP: each (s, a) moves to ``n_successors`` random states.

        Probabilities are uniform on the simplex, rewards uniform in [0, 1), the initial
        distribution uniform. Used by the value-iteration benchmark.
        """
        rng = np.random.default_rng(seed)
        shape = (n_states, n_actions, n_successors)
        succ = rng.integers(0, n_states, size=shape, dtype=np.int64)
        prob = rng.exponential(size=shape)
        prob /= prob.sum(-1, keepdims=True)
        rew = rng.random((n_states, n_actions))
        done = np.zeros(shape, bool)
        initial = np.full(n_states, 1.0 / n_states)
        return cls(succ, prob, done, rew, initial)


def is_tabular(env: gym.Env) -> bool:
    """True when ``env`` has Discrete spaces and a toy-text transition table ``P``."""
    return (
        isinstance(env.observation_space, gym.spaces.Discrete)
        and isinstance(env.action_space, gym.spaces.Discrete)
        and isinstance(getattr(env.unwrapped, "P", None), dict)
    )


def _initial_from_resets(env: gym.Env, n: int = 1000) -> np.ndarray:
    """Estimate the initial distribution from ``n`` seeded resets (envs without one)."""
    counts = np.zeros(int(env.observation_space.n))
    for seed in range(n):
        obs, _ = env.reset(seed=seed)
        counts[int(obs)] += 1
    return counts / n


def require_tabular(env: gym.Env, algo: str) -> None:
    """Raise ``BadInput`` unless ``env`` is tabular (for tabular algorithms)."""
    if is_tabular(env):
        return
    name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    raise BadInput(
        f"{algo} needs a tabular env (Discrete observations and actions and a transition "
        f"table P), got {name} with observations {describe_space(env.observation_space)} and "
        f"actions {describe_space(env.action_space)}; try FrozenLake-v1, Taxi-v4, CliffWalking-v1 or rlkit/GridWorld5x5-v0"
    )


def check_plannable(env: gym.Env, algo: str, gamma: float) -> TabularMDP:
    """The env's ``TabularMDP`` if a planner with ``gamma`` can solve it, else ``BadInput``."""
    require_tabular(env, algo)
    mdp = TabularMDP.from_env(env)
    try:
        check_solvable(mdp.model(), gamma)
    except ValueError as e:
        raise BadInput(f"{algo}: {e}") from None
    return mdp
