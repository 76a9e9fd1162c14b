"""``vec_env: ale``: ale-py's C++ vector env behind rlkit's Atari conventions.

What is the same as the Python pipeline (``rlkit.envs.atari``), checked here: 84x84 gray
frames stacked 4 (uint8), frame skip 4 with a max over the last two, FIRE on reset; for
training a lost life ends the agent's episode while the game goes on, rewards are
clipped to their sign, and the statistics are whole games with the real score; for
evaluation an episode is a whole game; game ``i`` is seeded with ``seed + i``.

What differs, by construction of the C++ env, and so is not compared frame by frame:
its reset presses FIRE for one frame (SB3's ``FireResetEnv`` takes two agent steps, 8
frames), so the two emulators are a few frames apart from the first step and their
trajectories under the same actions drift apart within a second of play; its frame stack
starts from blank frames (the Python pipeline repeats the first frame); and its no-op
starts draw from its own generator. The two are compared instead on what a policy meets:
over whole games of the same random policy, the score and the game length agree within
their sampling error (``test_random_play_scores_alike``).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rlkit.envs.ale_vector import AleVectorEnv, ale_settings
from rlkit.errors import BadInput


def play(env: AleVectorEnv, steps: int, seed: int = 0, actions_seed: int = 0):
    """``steps`` random steps from ``reset(seed)``; every step's outputs."""
    rng = np.random.default_rng(actions_seed)
    env.reset(seed=seed)
    n = env.single_action_space.n
    return [env.step(rng.integers(n, size=env.num_envs)) for _ in range(steps)]


def test_training_and_evaluation_see_the_same_pong_with_rewards_clipped_for_training():
    train = AleVectorEnv("PongNoFrameskip-v4", 2, train=True, threads=1)
    evaluate = AleVectorEnv("PongNoFrameskip-v4", 2, train=False, threads=1)
    assert train.single_observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    raw_scores = np.zeros(2)
    games = []
    for (o1, r1, t1, u1, i1), (o2, r2, t2, u2, _) in zip(
        play(train, 1200), play(evaluate, 1200), strict=True
    ):
        assert np.array_equal(o1, o2) and np.array_equal(t1, t2) and np.array_equal(u1, u2)
        assert np.array_equal(r1, np.sign(r2))  # Pong's points are +-1 anyway
        raw_scores += r2
        if "final_info" in i1:
            done = i1["final_info"]["_episode"]
            assert np.array_equal(done, t1 | u1)  # Pong has no lives: every end is a game
            assert np.array_equal(i1["final_info"]["episode"]["r"][done], raw_scores[done])
            games += list(i1["final_info"]["episode"]["l"][done])
            raw_scores[done] = 0
    assert games and all(3000 < frames < 12000 for frames in games)  # 4 frames a step


def test_a_lost_life_ends_the_training_episode_and_the_game_goes_on():
    env = AleVectorEnv("BreakoutNoFrameskip-v4", 1, train=True, threads=1)
    lives, life_ends, games = 5, 0, []
    clipped = 0.0
    for _, reward, terminated, _, info in play(env, 4000, seed=1):
        clipped += float(reward[0])
        assert reward[0] in (0.0, 1.0)
        if "final_info" in info and info["final_info"]["_episode"][0]:
            games.append(float(info["final_info"]["episode"]["r"][0]))
            assert terminated[0] and life_ends == 4  # the fifth lost life ends the game
            assert games[-1] >= clipped  # the real score (bricks count 1, 4 or 7)
            life_ends, clipped, lives = 0, 0.0, 5
        elif terminated[0]:
            life_ends += 1
            assert info["lives"][0] == lives - 1  # a life lost, the game goes on
            lives -= 1
    assert len(games) >= 2


def test_seeds_and_reproducibility():
    three = play(AleVectorEnv("PongNoFrameskip-v4", 3, threads=1), 100, seed=7)
    again = play(AleVectorEnv("PongNoFrameskip-v4", 3, threads=2), 100, seed=7)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(three, again, strict=True))
    first, _ = AleVectorEnv("PongNoFrameskip-v4", 3, threads=1).reset(seed=7)
    alone, _ = AleVectorEnv("PongNoFrameskip-v4", 1, threads=1).reset(seed=9)
    assert np.array_equal(first[2], alone[0])  # game i is seeded with seed + i


def test_a_truncated_game_keeps_its_final_observation():
    env = AleVectorEnv(
        "PongNoFrameskip-v4", 1, train=True, threads=1, max_num_frames_per_episode=400
    )
    for obs, _, terminated, truncated, info in play(env, 150):
        if truncated[0]:
            assert not terminated[0] and info["final_info"]["_episode"][0]
            assert info["final_obs"][0].shape == (4, 84, 84)
            assert not np.array_equal(info["final_obs"][0], obs[0])  # a new game began
            return
    pytest.fail("no truncation in 150 steps of a 400-frame limit")


def test_what_it_cannot_honour_is_refused():
    with pytest.raises(BadInput, match="CartPole-v1 is not one"):
        ale_settings("CartPole-v1", {})
    with pytest.raises(BadInput, match="cannot honour env_kwargs mode"):
        ale_settings("ALE/Pong-v5", {"mode": 1})
    assert ale_settings("ALE/Pong-v5", {})["repeat_action_probability"] == 0.25
    assert ale_settings("PongNoFrameskip-v4", {})["repeat_action_probability"] == 0.0


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "ppo", "CartPole-v1", "vec_env=ale"], "is not one"),
        (["train", "dqn", "CartPole-v1", "vec_env=ale"], "is not one"),
        (
            ["train", "ppo", "PongNoFrameskip-v4", "vec_env=ale", "env_kwargs.mode=2"],
            "cannot honour",
        ),
        (["train", "reinforce", "PongNoFrameskip-v4", "vec_env=ale"], "vec_env"),
    ],
)
def test_bad_backend_input_is_one_line_and_writes_nothing(cli, tmp_path, argv, message):
    code, _, err = cli(*argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_random_play_scores_alike():
    """Whole games of one random policy in both pipelines: the mean score and the mean game
    length (frames) agree within four standard errors."""
    from rlkit.envs import make_env

    games = 16

    def python_games() -> tuple[list[float], list[int]]:
        env = make_env("PongNoFrameskip-v4", train=False)  # the Python pipeline
        rng, scores, lengths = np.random.default_rng(1), [], []
        env.reset(seed=3)
        while len(scores) < games:
            _, _, terminated, truncated, info = env.step(int(rng.integers(6)))
            if terminated or truncated:
                scores.append(float(info["episode"]["r"]))
                lengths.append(int(info["episode"]["l"]))
                env.reset()
        return scores, lengths

    def ale_games() -> tuple[list[float], list[int]]:
        env = AleVectorEnv("PongNoFrameskip-v4", 4, train=False, threads=2)
        rng, scores, lengths = np.random.default_rng(1), [], []
        env.reset(seed=3)
        while len(scores) < games:
            _, _, _, _, info = env.step(rng.integers(6, size=4))
            if "final_info" in info:
                done = info["final_info"]["_episode"]
                scores += list(info["final_info"]["episode"]["r"][done])
                lengths += list(info["final_info"]["episode"]["l"][done])
        return scores[:games], lengths[:games]

    for a, b in zip(python_games(), ale_games(), strict=True):
        a, b = np.asarray(a, float), np.asarray(b, float)
        error = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        assert abs(a.mean() - b.mean()) <= 4 * error + 1e-9, (a.mean(), b.mean())


def test_resume_restores_everything_but_the_games_and_says_so(cli, tmp_path):
    """The emulators' state is C++'s: a resumed run takes weights, optimizer, counters and
    generators back exactly and starts fresh games, in one line; then it runs to the end."""
    import json

    import torch

    import rlkit

    settings = {
        "n_envs": 2,
        "n_steps": 32,
        "batch_size": 64,
        "n_epochs": 1,
        "total_steps": 512,
        "vec_env": "ale",
        "eval_interval": 0,
        "eval_episodes": 1,
        "log_interval": 64,
        "env_kwargs": {"max_num_frames_per_episode": 2000},
    }
    stopped = rlkit.train(
        "ppo",
        "PongNoFrameskip-v4",
        run_dir=tmp_path / "r",
        progress=False,
        callback=lambda row: row["step"] < 256,
        **settings,
    )
    assert stopped.summary is None and stopped.steps == 256
    saved = torch.load(tmp_path / "r" / "checkpoints" / "latest.pt", weights_only=True)
    code, _, err = cli("train", "--resume", "r", "--wandb", "disabled")
    assert code == 0, err
    assert "vec_env=ale keeps the games in C++" in err and "continues with fresh games" in err
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if "train/updates" in r]
    assert steps == sorted(steps) and steps[-1] == 512 and 320 in steps  # picked up at 256
    updates = [r["train/updates"] for r in rows if r["step"] == 320 and "train/updates" in r]
    assert updates == [saved["updates"] + 1]  # one more update than the checkpoint held


def test_in_two_parts_every_game_is_the_same_game():
    def make(parts: int) -> AleVectorEnv:  # 150 agent steps a game at most: truncations
        return AleVectorEnv(
            "BreakoutNoFrameskip-v4", 3, threads=2, parts=parts, max_num_frames_per_episode=600
        )

    split = make(2)
    assert split.parts == [slice(0, 1), slice(1, 3)]
    assert split.observation_space == make(1).observation_space
    lost = truncated = games = 0
    for (o1, r1, t1, u1, i1), (o2, r2, t2, u2, i2) in zip(
        play(make(1), 1200, seed=5), play(split, 1200, seed=5), strict=True
    ):
        for whole, parts in ((o1, o2), (r1, r2), (t1, t2), (u1, u2)):
            assert whole.dtype == parts.dtype and np.array_equal(whole, parts)
        assert set(i1) == set(i2)
        for key in ("lives", "episode_frame_number"):
            assert np.array_equal(i1[key], i2[key])
        if "final_info" in i1:  # (final_obs holds a frame only where a game was over)
            done = i1["final_info"]["_episode"]
            assert np.array_equal(i1["final_obs"][done], i2["final_obs"][done])
            assert np.array_equal(done, i2["final_info"]["_episode"])
            for key in ("r", "l"):
                assert np.array_equal(
                    i1["final_info"]["episode"][key][done], i2["final_info"]["episode"][key][done]
                )
            games += int(done.sum())
        over = i1["final_info"]["_episode"] if "final_info" in i1 else np.zeros(3, bool)
        lost += int((t1 & ~over).sum())
        truncated += int(u1.sum())
    assert lost and truncated and games  # lives lost, games cut by the limit, games over


class ObsActor:
    """A policy that acts on each observation alone, without noise: what the overlapped
    collector must reproduce exactly."""

    def __call__(self, obs: np.ndarray, episode_starts: np.ndarray):
        total = obs.reshape(len(obs), -1).sum(axis=1)
        actions = (total % 4).astype(np.int64)
        return actions, actions, -(total % 7).astype(np.float32), (total % 11).astype(np.float32)

    def values(self, obs: np.ndarray, env_indices: np.ndarray) -> np.ndarray:
        return obs.reshape(len(obs), -1).mean(axis=1).astype(np.float32) + 100 * env_indices


def test_the_overlapped_rollout_fills_the_buffer_as_the_plain_one():
    import torch

    from rlkit.data.rollout import RolloutBuffer, collect_rollout, collect_rollout_overlapped
    from rlkit.periodic import EpisodeStats

    def rollouts(parts: int):
        env = AleVectorEnv(
            "BreakoutNoFrameskip-v4", 4, threads=2, parts=parts, max_num_frames_per_episode=600
        )
        collect = collect_rollout_overlapped if parts == 2 else collect_rollout
        buffer, stats = RolloutBuffer(50, 4, (4, 84, 84), np.uint8), EpisodeStats()
        obs, _ = env.reset(seed=3)
        starts, filled = np.ones(4, np.float32), []
        for _ in range(4):
            buffer.reset()
            obs, starts = collect(env, buffer, obs, starts, ObsActor(), stats)
            filled.append(
                {k: v.copy() for k, v in vars(buffer).items() if isinstance(v, np.ndarray)}
            )
        return filled, obs, starts, stats

    threads = torch.get_num_threads()
    plain, overlapped = rollouts(1), rollouts(2)
    assert torch.get_num_threads() == threads  # given back after each rollout
    for a, b in zip(plain[0], overlapped[0], strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert np.array_equal(a[key], b[key]), key
    assert np.array_equal(plain[1], overlapped[1]) and np.array_equal(plain[2], overlapped[2])
    assert plain[3].state_dict() == overlapped[3].state_dict()
    cut = np.concatenate([f["final_values"] for f in plain[0]])
    assert (cut > 100).any()  # truncated games valued from their final frames, env 1 and up
    assert plain[3].episodes >= 4


def test_ppo_on_ale_collects_in_two_parts_and_is_reproducible(tmp_path):
    import torch

    import rlkit
    from rlkit import acting
    from rlkit.acting import rollout_env

    settings = {
        "n_envs": 4,
        "n_steps": 16,
        "batch_size": 32,
        "n_epochs": 1,
        "total_steps": 128,
        "vec_env": "ale",
        "eval_interval": 0,
        "checkpoint_interval": 0,
        "env_kwargs": {"max_num_frames_per_episode": 400},
    }
    made = []

    def spy(config, run):
        made.append(rollout_env(config, run))
        return made[-1]

    results = []
    for k in range(2):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(acting, "rollout_env", spy)
            results.append(
                rlkit.train(
                    "ppo",
                    "PongNoFrameskip-v4",
                    run_dir=tmp_path / str(k),
                    progress=False,
                    seed=1,
                    **settings,
                )
            )
    assert [len(env.parts) for env in made] == [2, 2]
    assert all(r.steps == 128 for r in results)
    a, b = (
        torch.load(tmp_path / str(k) / "checkpoints" / "latest.pt", weights_only=True)
        for k in range(2)
    )
    assert a["episodes"] == b["episodes"]  # the same run twice, bit for bit
    assert all(torch.equal(a["net"][key], b["net"][key]) for key in a["net"])
