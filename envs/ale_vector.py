"""Atari on ale-py's C++ vector env (``vec_env: ale``): many games stepped by native
threads, with rlkit's Atari conventions.

``ale_py.vector_env.AtariVectorEnv`` does the Nature preprocessing itself (up to 30
no-ops on reset, frame skip 4 with a max over the last two frames, 84x84 grayscale,
FIRE on reset where the game needs it, the frame stack) in C++, with threads that
release the GIL. ``AleVectorEnv`` wraps it so that it behaves as rlkit's Python
pipeline (``rlkit.envs.atari``) in a gymnasium vector env:

* for training (``train=True``) a lost life ends the agent's episode while the game goes
  on (ALE's ``life_loss_info``, as SB3's ``EpisodicLifeEnv``), and rewards are clipped to
  their sign; for evaluation an episode is a whole game with its own score;
* ``info["final_info"]["episode"]`` (masked by ``"_episode"``) reports every finished
  *game*: the real, unclipped score over all its lives and its length in frames, as
  ``RecordEpisodeStatistics`` does under the Python pipeline;
* ``SAME_STEP`` autoreset: a step that ends a game already returns the next game's first
  observation, the last one is in ``info["final_obs"]``;
* ``reset(seed=s)`` seeds game ``i`` with ``s + i``, as gymnasium's vector envs do.

With ``parts=2`` the games are split into two halves, each its own C++ env with half the
threads, so that one half can be emulated while the other is acted on
(``send_part`` / ``recv_part``; ``rlkit.data.rollout.collect_rollout_overlapped``). Each
game is the same game either way (same seed, same frames); ``step`` steps both halves.

What differs from the Python pipeline, and why, is in ``tests/envs/test_ale_vector.py``.
The emulators' state lives in C++ and is not captured by a checkpoint: a resumed run
restores everything else exactly and starts fresh games (``restart``), and says so.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np

from rlkit.data.rollout import merge_infos
from rlkit.errors import BadInput

HONOURED = ("repeat_action_probability", "full_action_space", "max_num_frames_per_episode")
"""The ``env_kwargs`` of an Atari id the C++ env can honour."""


def ale_settings(env_id: str, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The game and emulator settings of an Atari id (its registered kwargs, then the
    user's ``env_kwargs``); ``BadInput`` for a non-Atari id or a keyword it cannot honour."""
    from rlkit.envs.atari import is_atari

    if not is_atari(env_id):
        raise BadInput(f"vec_env=ale steps Atari games; {env_id} is not one (use vec_env=sync)")
    unknown = sorted(set(env_kwargs) - set(HONOURED))
    if unknown:
        raise BadInput(
            f"vec_env=ale cannot honour env_kwargs {', '.join(unknown)} (it takes "
            f"{', '.join(HONOURED)}); use vec_env=sync"
        )
    registered = gym.spec(env_id).kwargs
    settings = {
        "game": registered["game"],
        "repeat_action_probability": float(registered.get("repeat_action_probability", 0.0)),
        "full_action_space": bool(registered.get("full_action_space", False)),
        "max_num_frames_per_episode": int(registered.get("max_num_frames_per_episode", 108_000)),
    }
    settings.update(env_kwargs)
    if registered.get("obs_type", "rgb") != "rgb":
        raise BadInput(
            f"vec_env=ale makes grayscale 84x84 frames from the screen; {env_id} asks for {registered['obs_type']}"
        )
    return settings


class AleVectorEnv(gym.vector.VectorEnv):
    """``n_envs`` Atari games on ale-py's C++ vector env (see the module doc)."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(
        self,
        env_id: str,
        n_envs: int,
        train: bool = True,
        frame_stack: int = 4,
        threads: int = 0,
        noop_max: int = 30,
        parts: int = 1,
        **env_kwargs: Any,
    ) -> None:
        from ale_py.vector_env import AtariVectorEnv

        settings = ale_settings(env_id, env_kwargs)
        if not 1 <= parts <= n_envs:
            raise ValueError(f"parts must be between 1 and n_envs = {n_envs}, got {parts}")
        self.env_id, self.train = env_id, train
        self.num_envs = n_envs
        # the host's cores, shared with the other data-parallel ranks on this host
        threads = threads or min(
            n_envs, max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
        )
        bounds = [n_envs * k // parts for k in range(parts + 1)]
        self.parts = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        """The games of each part (``send_part`` / ``recv_part``)."""
        self._natives = [
            AtariVectorEnv(
                settings["game"],
                part.stop - part.start,
                num_threads=min(part.stop - part.start, max(1, threads // parts)),
                stack_num=frame_stack,
                frameskip=4,
                maxpool=True,
                noop_max=noop_max,
                img_height=84,
                img_width=84,
                grayscale=True,
                episodic_life=False,
                life_loss_info=train,
                reward_clipping=False,  # clipped here, so the real score can be counted
                use_fire_reset=True,
                repeat_action_probability=settings["repeat_action_probability"],
                full_action_space=settings["full_action_space"],
                max_num_frames_per_episode=settings["max_num_frames_per_episode"],
                autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
            )
            for part in self.parts
        ]
        first = self._natives[0]
        self.single_observation_space = first.single_observation_space
        self.single_action_space = first.single_action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, n_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, n_envs)
        self._score = np.zeros(n_envs)
        self._frames = np.zeros(n_envs, dtype=np.int64)
        self._lives = np.zeros(n_envs, dtype=np.int64)
        self._seed = 0
        self._steps = 0

    fresh_on_resume = True
    """The games' state lives in C++: a checkpoint cannot capture it (see ``restart``)."""

    def restart(self) -> np.ndarray:
        """New games for a resumed run, seeded from the checkpoint's own counters (so a resumed
        run is reproducible); returns their first observations."""
        obs, _ = self.reset(seed=self._seed + 1_000_003 * self._steps)
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """New games (game ``i`` seeded with ``seed + i``)."""
        if seed is not None:  # the C++ env takes 31-bit seeds (game i: seed + i); one
            # modulus for up to 2**16 games, so that game i of a run split over
            # data-parallel ranks gets the seed it gets in one process
            seed = int(seed) % (2**31 - max(2**16, self.num_envs))
            self._seed = seed
        results = [
            native.reset(seed=None if seed is None else seed + part.start, options=options)
            for native, part in zip(self._natives, self.parts, strict=True)
        ]
        obs = np.concatenate([o for o, _ in results])
        info = merge_infos([i for _, i in results], self.parts)
        self._score[:] = 0.0
        self._frames[:] = np.asarray(info["episode_frame_number"])
        self._lives[:] = np.asarray(info["lives"])
        return obs, info

    def step(self, actions: Any):
        """One agent step of every game (four frames each)."""
        actions = np.asarray(actions)
        for k, part in enumerate(self.parts):
            self.send_part(k, actions[part])
        results = [self.recv_part(k) for k in range(len(self.parts))]
        if len(results) == 1:
            return results[0]
        return (
            *(np.concatenate([r[j] for r in results]) for j in range(4)),
            merge_infos([r[4] for r in results], self.parts),
        )

    def send_part(self, k: int, actions: Any) -> None:
        """Start one agent step of part ``k``'s games (``actions``: one per game of the part);
        the C++ threads emulate it while Python goes on. ``recv_part(k)`` takes the result."""
        self._natives[k].send(np.asarray(actions))

    def recv_part(self, k: int):
        """Wait for part ``k``'s step and return it as ``step`` does for those games (their
        ``final_info`` indexed within the part). Counts a step once every part is in."""
        obs, rewards, terminated, truncated, info = self._natives[k].recv()
        part = self.parts[k]
        if k == len(self.parts) - 1:
            self._steps += 1
        rewards = np.asarray(rewards, dtype=np.float64)
        lives = np.asarray(info["lives"], dtype=np.int64)
        frames = np.asarray(info["episode_frame_number"], dtype=np.int64)
        life_lost = terminated & (lives < self._lives[part])  # the game goes on (training only)
        game_over = (terminated & ~life_lost) | truncated
        score = self._score[part]  # a view: updated in place
        score += rewards
        if game_over.any():
            # the frames of a finished game: those counted before this step, plus this step's
            length = np.where(game_over, self._frames[part] + 4, 0)
            info = dict(info)
            info["final_info"] = {
                "episode": {"r": score.copy(), "l": length},
                "_episode": game_over.copy(),
            }
            score[game_over] = 0.0
        self._frames[part] = frames
        self._lives[part] = lives
        if self.train:
            rewards = np.sign(rewards)
        return obs, rewards.astype(np.float32), terminated, truncated, info

    def close_extras(self, **kwargs: Any) -> None:
        """Close the C++ envs."""
        for native in self._natives:
            native.close()
