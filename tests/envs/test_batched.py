"""The batched torch envs against Gymnasium's own: same states and actions give the same
observations, rewards, terminations and truncations (within 1e-5, float32), through episode
ends and the time limit; initial states with Gymnasium's distributions; exact continuation."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.envs.batched import BATCHED, make_batched_env
from rlkit.errors import BadInput

N_ENVS = 20
STEPS = 500  # x 20 envs = 10,000 steps per env id


def _actions(env_id: str, env, state: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
    """Random actions, except in half of the envs: CartPoles balance (so episodes reach the
    500-step limit), acrobots and mountain cars push along their swing (so they reach the
    goal);
    continuous actions go past the bounds (so clipping is exercised)."""
    space = env.single_action_space
    half = env.num_envs // 2
    if isinstance(space, gym.spaces.Discrete):
        actions = rng.integers(0, space.n, size=env.num_envs)
        if env_id == "CartPole-v1":
            actions[:half] = (state[:half, 2] + 0.5 * state[:half, 3] > 0).long().numpy()
        if env_id == "MountainCar-v0":
            actions[:half] = 2 * (state[:half, 1] >= 0).long().numpy()
        if env_id == "Acrobot-v1":  # torque along the second joint's swing pumps energy in
            actions[:half] = 2 * (state[:half, 3] >= 0).long().numpy()
        return actions
    high = float(space.high[0])
    actions = rng.uniform(-1.5 * high, 1.5 * high, size=(env.num_envs, 1)).astype(np.float32)
    if env_id == "MountainCarContinuous-v0":
        actions[:half, 0] = np.where(state[:half, 1].numpy() >= 0, 1.2, -1.2)
    return actions


def _close(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Equal within 1e-5, relative to the value's size where it exceeds 1."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert np.all(np.abs(ours - theirs) <= 1e-5 * np.maximum(1.0, np.abs(theirs))), (
        ours,
        theirs,
    )


PATHS = [(env_id, None) for env_id in sorted(BATCHED)] + [("CartPole-v1", False)]
"""Every env on its default path (CartPole: the native kernel), and CartPole's torch path."""


@pytest.mark.parametrize(("env_id", "native"), PATHS)
def test_dynamics_equal_gymnasium_over_10000_steps(env_id, native):
    # MountainCarContinuous's 999-step limit is cut to 300 on both sides, so that the
    # 500 steps see it
    limit = {"max_episode_steps": 300} if env_id == "MountainCarContinuous-v0" else {}
    env = make_batched_env(env_id, N_ENVS, seed=0, native=native, **limit)
    assert env.state.shape == (N_ENVS, env.state_dim) and env.state.dtype == torch.float32
    refs = [gym.make(env_id, **limit) for _ in range(N_ENVS)]
    for i, ref in enumerate(refs):
        ref.reset(seed=i)
    rng = np.random.default_rng(0)
    terminations = truncations = 0
    for _ in range(STEPS):
        state = env.state.clone()
        actions = _actions(env_id, env, state, rng)
        obs, reward, terminated, truncated, info = env.step(torch.as_tensor(actions))
        for i, ref in enumerate(refs):
            env.set_gym_state(ref, state[i].double().numpy())  # the same state
            action = int(actions[i]) if env.discrete else actions[i]
            r_obs, r_reward, r_term, r_trunc, _ = ref.step(action)
            _close(info["final_obs"][i].numpy(), r_obs)
            _close(reward[i].item(), r_reward)
            assert bool(terminated[i]) == r_term and bool(truncated[i]) == r_trunc
            if r_term or r_trunc:
                terminations += r_term
                truncations += r_trunc
                assert info["_final_obs"][i] and info["final_info"]["_episode"][i]
                ref.reset()  # the next episode starts from the batched env's draw
                _close(obs[i].numpy(), env.observe(env.state[i : i + 1])[0].numpy())
                assert int(env.elapsed[i]) == 0
            else:
                assert not info["_final_obs"][i]
                _close(obs[i].numpy(), r_obs)
    # both ways for an episode to end were checked (Pendulum never terminates)
    assert truncations > 0 and (terminations > 0 or env_id == "Pendulum-v1")


def test_episode_statistics_are_the_returns_and_lengths_of_finished_episodes():
    env = make_batched_env("MountainCar-v0", 3, seed=1)  # random play always truncates at 200
    zeros = torch.zeros(3, dtype=torch.long)
    for _ in range(200):
        assert not env.elapsed.eq(200).any()
        _, reward, _, truncated, info = env.step(zeros)
        assert torch.equal(reward, -torch.ones(3))
    assert truncated.all() and info["final_info"]["_episode"].all()
    assert torch.equal(info["final_info"]["episode"]["l"], torch.full((3,), 200))
    assert torch.equal(info["final_info"]["episode"]["r"], torch.full((3,), -200.0))
    assert torch.equal(env.elapsed, torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize(
    ("env_id", "low", "high", "native"),
    [
        ("CartPole-v1", [-0.05] * 4, [0.05] * 4, None),
        ("CartPole-v1", [-0.05] * 4, [0.05] * 4, False),
        ("Acrobot-v1", [-0.1] * 4, [0.1] * 4, None),
        ("MountainCar-v0", [-0.6, 0.0], [-0.4, 0.0], None),
        ("MountainCarContinuous-v0", [-0.6, 0.0], [-0.4, 0.0], None),
        ("Pendulum-v1", [-math.pi, -1.0], [math.pi, 1.0], None),
    ],
)
def test_initial_states_have_gymnasiums_uniform_distributions(env_id, low, high, native):
    env = make_batched_env(env_id, 20_000, seed=3, native=native)
    low, high = torch.tensor(low), torch.tensor(high)
    state = env.state
    assert torch.all(state >= low) and torch.all(state <= high)
    spread = high - low
    varies = spread > 0
    # mean and standard deviation of a uniform: (low + high) / 2 and spread / sqrt(12);
    # 20,000 draws put the sample mean within 4 standard errors of it
    mean_error = (state.mean(0) - (low + high) / 2).abs()
    assert torch.all(mean_error <= 4 * spread / math.sqrt(12) / math.sqrt(20_000) + 1e-7)
    std_ratio = state.std(0)[varies] / (spread[varies] / math.sqrt(12))
    assert torch.all((std_ratio - 1).abs() < 0.03)


@pytest.mark.parametrize("native", [None, False])
def test_unseeded_envs_start_apart(native):
    env = make_batched_env("CartPole-v1", 64, native=native)  # no seed given anywhere
    env.reset()
    assert len(torch.unique(env.state[:, 0])) == 64


@pytest.mark.parametrize("native", [None, False])
def test_seeded_resets_repeat_and_differ_across_seeds(native):
    a = make_batched_env("CartPole-v1", 8, seed=5, native=native)
    b = make_batched_env("CartPole-v1", 8, seed=5, native=native)
    c = make_batched_env("CartPole-v1", 8, seed=6, native=native)
    assert torch.equal(a.state, b.state) and not torch.equal(a.state, c.state)
    actions = torch.ones(8, dtype=torch.long)
    for _ in range(40):  # through episode ends: the fresh draws repeat too
        assert torch.equal(a.step(actions)[0], b.step(actions)[0])


@pytest.mark.parametrize("env_id", ["Acrobot-v1", "CartPole-v1"])  # torch path, native kernel
def test_state_dict_continues_exactly(env_id):
    env = make_batched_env(env_id, 6, seed=0)
    gen = torch.Generator().manual_seed(1)
    for _ in range(30):
        env.step(torch.randint(0, 2, (6,), generator=gen))
    saved = env.state_dict()
    actions = [torch.randint(0, 2, (6,), generator=gen) for _ in range(600)]
    first = [env.step(a) for a in actions]
    again = make_batched_env(env_id, 6, seed=99)
    again.load_state_dict(saved)
    for a, (obs, reward, term, trunc, _info) in zip(actions, first, strict=True):
        obs2, reward2, term2, trunc2, _ = again.step(a)
        assert torch.equal(obs, obs2) and torch.equal(reward, reward2)
        assert torch.equal(term, term2) and torch.equal(trunc, trunc2)


@pytest.mark.parametrize("native", [None, False])
def test_writing_the_state_moves_the_envs(native):
    env = make_batched_env("CartPole-v1", 2, seed=0, native=native)
    env.state[:] = torch.tensor([[0.0, 0.0, 0.0, 0.0], [2.39, 1.0, 0.0, 0.0]])
    _, _, terminated, _, info = env.step(torch.tensor([1, 1]))
    assert terminated.tolist() == [False, True]  # x = 2.39 + 0.02 > 2.4
    assert info["final_obs"][1, 0].item() == pytest.approx(2.41, abs=1e-6)


def test_render_draws_with_gymnasiums_renderer():
    env = make_batched_env("Pendulum-v1", 2, seed=0)
    frame = env.render(1)
    ref = gym.make("Pendulum-v1", render_mode="rgb_array")
    ref.reset(seed=0)
    env.set_gym_state(ref, env.state[1].double().numpy())
    assert frame.shape == (500, 500, 3) and np.array_equal(frame, ref.render())
    env.close()


def test_make_vector_env_builds_the_torch_backend():
    env = rlkit.make_vector_env("Pendulum-v1", 4, backend="torch", device="cpu", seed=0)
    obs, _ = env.reset(seed=0)
    assert isinstance(obs, torch.Tensor) and obs.shape == (4, 3)
    obs, reward, terminated, truncated, _ = env.step(np.zeros((4, 1), np.float32))
    assert reward.shape == (4,) and terminated.dtype == torch.bool


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_batched_env("LunarLander-v3", 4), "choose from Acrobot-v1, CartPole-v1"),
        (lambda: make_batched_env("CartPole-v1", 0), "n_envs=0"),
        (lambda: make_batched_env("CartPole-v1", 4, device="tpu"), "unknown device 'tpu'"),
        (lambda: make_batched_env("CartPole-v1", 4, sutton_barto_reward=True), "sutton_barto"),
        (
            lambda: make_batched_env("Pendulum-v1", 4, native=True),
            "Pendulum-v1 has no native kernel (those with one: CartPole-v1)",
        ),
        (
            lambda: make_batched_env("CartPole-v1", 4, native=True, compile=True),
            "exclude each other",
        ),
        (
            lambda: rlkit.make_vector_env("CartPole-v1", 4, backend="jax"),
            "choose from async, sync, torch",
        ),
        (
            lambda: rlkit.make_vector_env("CartPole-v1", 4, device="cuda:0"),
            "the sync backend steps envs on the CPU",
        ),
    ],
)
def test_bad_input_is_one_line_naming_what_is_supported(call, message):
    with pytest.raises(BadInput, match=None) as caught:
        call()
    text = str(caught.value)
    assert message in text and "\n" not in text


def test_compiled_step_equals_the_eager_one():
    eager = make_batched_env("CartPole-v1", 64, seed=2, native=False)
    fused = make_batched_env("CartPole-v1", 64, seed=2, compile=True)
    gen = torch.Generator().manual_seed(0)
    for _ in range(60):
        actions = torch.randint(0, 2, (64,), generator=gen)
        a, b = eager.step(actions), fused.step(actions)
        torch.testing.assert_close(a[0], b[0], rtol=1e-6, atol=1e-6)
        assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])


def test_native_kernel_is_the_cartpole_default_on_the_cpu_and_falls_back_without_it(monkeypatch):
    from rlkit.envs import native

    assert make_batched_env("CartPole-v1", 4, seed=0)._native is not None
    assert make_batched_env("CartPole-v1", 4, seed=0, native=False)._native is None
    monkeypatch.setattr(native, "load", lambda name: None)  # no C compiler here
    fallback = make_batched_env("CartPole-v1", 4, seed=0)
    assert fallback._native is None and fallback.step(torch.ones(4, dtype=torch.long))[0].shape == (
        4,
        4,
    )
    with pytest.raises(BadInput, match="could not be compiled"):
        make_batched_env("CartPole-v1", 4, native=True)


def test_a_saved_state_of_the_other_path_is_refused():
    saved = make_batched_env("CartPole-v1", 4, seed=0).state_dict()
    with pytest.raises(BadInput, match="other step path"):
        make_batched_env("CartPole-v1", 4, seed=0, native=False).load_state_dict(saved)


@pytest.mark.gpu
@pytest.mark.parametrize("env_id", sorted(BATCHED))
def test_cuda_steps_like_the_cpu(env_id):
    """From the same states and actions, the envs on a GPU give the CPU's torch path's
    observations, rewards and flags (within float32 rounding of the two devices' math)."""
    cpu = make_batched_env(env_id, 256, seed=0, native=False)
    gpu = make_batched_env(env_id, 256, device="cuda", seed=0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        gpu.state = cpu.state.cuda()
        gpu.elapsed = cpu.elapsed.cuda()
        if cpu.discrete:
            actions = torch.randint(0, cpu.single_action_space.n, (256,), generator=gen)
        else:
            actions = 2 * torch.rand(256, 1, generator=gen) - 1
        a, b = cpu.step(actions), gpu.step(actions.cuda())
        torch.testing.assert_close(b[4]["final_obs"].cpu(), a[4]["final_obs"], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(b[1].cpu(), a[1], atol=1e-5, rtol=1e-5)
        assert torch.equal(b[2].cpu(), a[2]) and torch.equal(b[3].cpu(), a[3])
