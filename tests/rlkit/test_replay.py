"""The frame-once replay buffer against a naive buffer that stores every stack twice."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.wrappers import FrameStackObservation

from rlkit.data import ReplayBuffer, SumTree


class RandomFrames(gym.Env):
    """Random 3x3 uint8 frames; random episode ends, some terminated, some truncated."""

    def __init__(self, seed):
        self.observation_space = gym.spaces.Box(0, 255, (3, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(3)
        self.rng = np.random.default_rng(seed)

    def _frame(self):
        return self.rng.integers(0, 256, (3, 3), dtype=np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self._frame(), {}

    def step(self, action):
        end = self.rng.random()
        return (
            self._frame(),
            float(self.rng.normal()),
            bool(end < 0.08),
            bool(0.08 <= end < 0.12),
            {},
        )


class NaiveBuffer:
    """Stores obs and next_obs of every transition; n-step returns by a plain loop."""

    def __init__(self, capacity, n_step, gamma):
        self.capacity, self.n_step, self.gamma = capacity, n_step, gamma
        self.items = []  # oldest first

    def add(self, obs, action, reward, terminated, truncated, next_obs):
        self.items.append(
            (np.array(obs), action, reward, terminated, terminated or truncated, np.array(next_obs))
        )
        if len(self.items) > self.capacity:
            self.items.pop(0)

    def sample(self, batch_size, rng):
        offsets = rng.integers(0, len(self.items), size=batch_size)
        out = {k: [] for k in ("obs", "actions", "rewards", "next_obs", "dones", "discounts")}
        for o in offsets:
            obs, action = self.items[o][0], self.items[o][1]
            ret, m = 0.0, 0
            for k in range(self.n_step):
                if o + k >= len(self.items):
                    break
                item = self.items[o + k]
                ret += self.gamma**k * item[2]
                m = k + 1
                if item[4]:
                    break
            last = self.items[o + m - 1]
            out["obs"].append(obs)
            out["actions"].append(action)
            out["rewards"].append(ret)
            out["next_obs"].append(last[5])
            out["dones"].append(float(last[3]))
            out["discounts"].append(self.gamma**m)
        return {k: np.array(v) for k, v in out.items()}


def fill(buffers, steps, seed=0, stack=4):
    env = FrameStackObservation(RandomFrames(seed), stack) if stack > 1 else RandomFrames(seed)
    rng = np.random.default_rng(seed + 100)
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        action = int(rng.integers(3))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for buffer in buffers:
            buffer.add(obs, action, reward, terminated, truncated, next_obs)
        obs = env.reset()[0] if terminated or truncated else next_obs


@pytest.mark.parametrize("n_step", [1, 3])
@pytest.mark.parametrize("steps", [40, 333])  # before and after the ring wraps
def test_identical_batches_to_a_naive_buffer(n_step, steps):
    ours = ReplayBuffer(100, (4, 3, 3), np.uint8, stack=4, n_step=n_step, gamma=0.9)
    naive = NaiveBuffer(100, n_step, 0.9)
    fill([ours, naive], steps)
    assert len(ours) == len(naive.items) == min(steps, 100)
    batch = ours.sample(256, np.random.default_rng(7))
    expected = naive.sample(256, np.random.default_rng(7))
    assert np.array_equal(batch.obs.numpy(), expected["obs"])
    assert np.array_equal(batch.next_obs.numpy(), expected["next_obs"])
    assert np.array_equal(batch.actions.numpy(), expected["actions"])
    assert np.allclose(batch.rewards.numpy(), expected["rewards"], atol=1e-5)
    assert np.array_equal(batch.dones.numpy(), expected["dones"])
    assert np.allclose(batch.discounts.numpy(), expected["discounts"])
    assert batch.obs.dtype == torch.uint8


def test_vector_observations():
    ours = ReplayBuffer(50, (3, 3), np.float32, stack=1, n_step=2, gamma=0.5)
    naive = NaiveBuffer(50, 2, 0.5)
    fill([ours, naive], 200, stack=1)
    batch = ours.sample(64, np.random.default_rng(1))
    expected = naive.sample(64, np.random.default_rng(1))
    for key in ("obs", "next_obs", "dones"):
        assert np.array_equal(getattr(batch, key).numpy(), expected[key].astype(np.float32))
    assert np.allclose(batch.rewards.numpy(), expected["rewards"], atol=1e-5)


def test_n_step_by_hand():
    buffer = ReplayBuffer(10, (1,), np.float32, n_step=3, gamma=0.5)
    # episode: r = 1, 2, 4 then terminated; then a new episode with r = 8 (not ended)
    for t, (r, term) in enumerate([(1, False), (2, False), (4, True), (8, False)]):
        buffer.add([t], 0, r, term, False, [t + 1])
    batch = buffer._gather(np.array([0, 1, 2, 3]), np.ones(4, np.float32))
    assert batch.rewards.tolist() == [1 + 0.5 * 2 + 0.25 * 4, 2 + 0.5 * 4, 4, 8]
    assert batch.dones.tolist() == [1, 1, 1, 0]
    assert batch.discounts.tolist() == [0.125, 0.25, 0.5, 0.5]
    assert batch.next_obs.flatten().tolist() == [3, 3, 3, 4]


def test_truncated_episode_keeps_its_final_observation():
    buffer = ReplayBuffer(10, (1,), np.float32)
    buffer.add([0], 0, 1.0, False, True, [99])  # truncated: next_obs is the real last one
    buffer.add([5], 0, 1.0, False, False, [6])  # the next episode starts with obs 5
    batch = buffer._gather(np.array([0, 1]), np.ones(2, np.float32))
    assert batch.next_obs.flatten().tolist() == [99, 6] and batch.dones.tolist() == [0, 0]
    assert batch.obs.flatten().tolist() == [0, 5]


def test_short_episodes_evict_early_but_stay_correct():
    # a frame ring with room for only a few extra frames: many 1-step episodes
    ours = ReplayBuffer(20, (2, 1), np.uint8, stack=2, frames=24)
    for t in range(50):
        ours.add([[t], [t]], 0, 0.0, True, False, [[t], [t + 100]])
    assert 0 < len(ours) < 20
    batch = ours.sample(32, np.random.default_rng(0))
    obs, nxt = batch.obs[:, -1, 0].numpy(), batch.next_obs[:, -1, 0].numpy()
    assert np.array_equal(nxt, obs + 100)  # each transition still has its own frames


def test_memory_of_a_million_atari_transitions():
    nbytes = ReplayBuffer.estimate_bytes(1_000_000, (4, 84, 84), np.uint8, stack=4)
    assert 7.056e9 < nbytes <= 7.2e9
    small = ReplayBuffer(1000, (4, 84, 84), np.uint8, stack=4)
    assert small.nbytes == ReplayBuffer.estimate_bytes(1000, (4, 84, 84), np.uint8, stack=4)


def test_state_dict_round_trip():
    a = ReplayBuffer(30, (4, 3, 3), np.uint8, stack=4, n_step=2, prioritized=True)
    fill([a], 77)
    b = ReplayBuffer(30, (4, 3, 3), np.uint8, stack=4, n_step=2, prioritized=True)
    b.load_state_dict(a.state_dict())
    x, y = a.sample(16, np.random.default_rng(3)), b.sample(16, np.random.default_rng(3))
    assert (
        torch.equal(x.obs, y.obs)
        and torch.equal(x.next_obs, y.next_obs)
        and torch.equal(x.weights, y.weights)
    )


def test_state_dict_keeps_only_what_was_written_until_the_rings_wrap():
    def make() -> ReplayBuffer:
        return ReplayBuffer(100, (4, 3, 3), np.uint8, stack=4, n_step=3)

    a = make()
    fill([a], 40)
    state = a.state_dict()
    assert len(state["frames"]) == a.frame_count < a.n_frames
    assert len(state["actions"]) == a.head == 40
    b = make()
    b.load_state_dict(state)
    # the restored buffer goes on exactly as the original, through the wrap of both rings
    for buffer in (a, b):
        for t in range(40, 400):
            frame = np.full((4, 3, 3), t % 251, np.uint8)
            buffer.add(frame, t % 3, float(t), t % 37 == 0, t % 53 == 0, frame + 1)
    x, y = a.sample(64, np.random.default_rng(5)), b.sample(64, np.random.default_rng(5))
    assert torch.equal(x.obs, y.obs) and torch.equal(x.next_obs, y.next_obs)
    assert torch.equal(x.rewards, y.rewards) and torch.equal(x.dones, y.dones)
    full = a.state_dict()  # wrapped: whole rings
    assert len(full["frames"]) == a.n_frames and len(full["actions"]) == a.capacity
    c = make()
    c.load_state_dict(full)
    z = c.sample(64, np.random.default_rng(5))
    assert torch.equal(x.obs, z.obs) and torch.equal(x.next_obs, z.next_obs)
    with pytest.raises(ValueError, match="frames"):
        ReplayBuffer(10, (4, 3, 3), np.uint8, stack=4).load_state_dict(full)


@pytest.mark.parametrize("native", [True, False])
def test_sum_tree_total_find_and_proportions(native):
    tree = SumTree(5, native=native)
    assert tree.native is native
    tree.update(np.arange(5), np.array([1.0, 0.0, 3.0, 2.0, 4.0]))
    assert tree.total == 10.0
    assert tree.find(np.array([0.0, 0.99, 1.0, 3.99, 4.0, 5.99, 6.0, 9.99])).tolist() == [
        0,
        0,
        2,
        2,
        3,
        3,
        4,
        4,
    ]
    tree.update(2, 0.5)
    assert tree.total == 7.5
    counts = np.bincount(
        tree.find(np.random.default_rng(0).random(100_000) * tree.total), minlength=5
    )
    assert np.allclose(counts / 100_000, np.array([1.0, 0.0, 0.5, 2.0, 4.0]) / 7.5, atol=0.01)


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("capacity", [1, 5, 1000])
def test_sum_tree_one_leaf_updates_sum_as_batched_ones_do(capacity, native):
    # a replay's add sets one leaf at a time (a walk in C, else in plain Python); the same
    # updates as one-element batches (the other path's) must leave every node equal, bit
    # for bit
    one, batched = SumTree(capacity, native=native), SumTree(capacity, native=not native)
    rng = np.random.default_rng(capacity)
    leaves, priorities = rng.integers(capacity, size=3000), rng.random(3000) ** 3
    for leaf, priority in zip(leaves, priorities, strict=True):
        one.update(int(leaf), float(priority))
        batched.update(np.array([leaf]), np.array([priority]))
    assert np.array_equal(one.tree, batched.tree)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite and >= 0"):
            one.update(0, bad)
    with pytest.raises(IndexError):
        one.update(one.leaves, 1.0)


@pytest.mark.parametrize("capacity", [1, 2, 7, 1000, 100_000])
def test_sum_tree_walks_in_c_as_in_numpy_bit_for_bit(capacity):
    # batches of leaves (duplicates included: the last one wins) with priorities from
    # subnormal to 1e10; after every update both trees hold the same bits in every node
    # and send the same values to the same leaves
    c, numpy = SumTree(capacity, native=True), SumTree(capacity, native=False)
    rng = np.random.default_rng(capacity)
    for _ in range(300):
        n = int(rng.integers(1, 48))
        leaves = rng.integers(capacity, size=n)
        priorities = rng.random(n) * rng.choice([5e-324, 1e-300, 1.0, 1e10], size=n)
        c.update(leaves, priorities)
        numpy.update(leaves, priorities)
        assert np.array_equal(c.tree, numpy.tree)
        values = np.append(rng.random(64) * c.total, [0.0, np.nextafter(c.total, 0)])
        assert np.array_equal(c.find(values), numpy.find(values))
    assert c.find(np.zeros(0)).shape == numpy.find(np.zeros(0)).shape == (0,)


@pytest.mark.parametrize("native", [True, False])
def test_sum_tree_refuses_bad_priorities_and_leaves_changing_nothing(native):
    tree = SumTree(6, native=native)
    tree.update(np.arange(6), np.arange(1.0, 7.0))
    before = tree.tree.copy()
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite and >= 0"):
            tree.update(np.array([0, 1]), np.array([2.0, bad]))
    for leaf in (-1, tree.leaves):
        with pytest.raises(IndexError, match="outside the tree"):
            tree.update(np.array([0, leaf]), np.array([2.0, 3.0]))
    assert np.array_equal(tree.tree, before)


def test_the_c_walks_refuse_a_tree_array_they_would_overrun():
    tree = SumTree(8, native=True)
    tree.tree = np.zeros(4)  # shorter than the 16 nodes the kernel would walk
    with pytest.raises(ValueError, match="16 contiguous float64"):
        tree.update(np.array([7]), np.array([1.0]))
    with pytest.raises(ValueError, match="16 contiguous float64"):
        tree.find(np.array([0.5]))
    tree.tree = np.zeros(16, dtype=np.float32)
    with pytest.raises(ValueError, match="16 contiguous float64"):
        tree.update(3, 1.0)


def test_sum_tree_without_a_compiler_walks_in_numpy(monkeypatch):
    from rlkit.data import sumtree

    monkeypatch.setattr(sumtree, "_kernel", lambda: None)  # no C compiler here
    tree = SumTree(5)
    assert not tree.native
    tree.update(np.arange(5), np.array([1.0, 0.0, 3.0, 2.0, 4.0]))
    assert tree.find(np.array([0.5, 9.5])).tolist() == [0, 4]
    with pytest.raises(RuntimeError, match="could not be compiled"):
        SumTree(5, native=True)


def test_prioritized_replay_samples_the_same_batches_with_either_walk(monkeypatch):
    from rlkit.data import sumtree

    def run() -> list[np.ndarray]:
        buffer = ReplayBuffer(500, (2,), np.float32, n_step=3, prioritized=True, alpha=0.6)
        rng, seen = np.random.default_rng(4), []
        for t in range(1200):
            buffer.add([t, -t], t % 3, float(t % 5), t % 97 == 0, False, [t + 1, -t - 1])
            if t >= 64 and t % 4 == 0:
                batch = buffer.sample(32, rng, beta=0.5)
                buffer.update_priorities(batch.indices, rng.normal(size=32))
                seen += [batch.indices, batch.weights.numpy(), batch.obs.numpy()]
        return [*seen, buffer.tree.tree.copy()]

    native = run()
    monkeypatch.setattr(sumtree, "_kernel", lambda: None)
    numpy = run()
    assert len(native) == len(numpy)
    assert all(np.array_equal(a, b) for a, b in zip(native, numpy, strict=True))


def test_prioritized_sampling_and_weights():
    buffer = ReplayBuffer(4, (1,), np.float32, prioritized=True, alpha=1.0, priority_eps=0.0)
    for t in range(4):
        buffer.add([t], 0, 0.0, False, False, [t + 1])
    buffer.update_priorities(np.arange(4), np.array([1.0, 1.0, 2.0, 4.0]))
    rng = np.random.default_rng(0)
    picks = np.concatenate([buffer.sample(8, rng).indices for _ in range(2000)])
    assert np.allclose(
        np.bincount(picks, minlength=4) / len(picks), [0.125, 0.125, 0.25, 0.5], atol=0.01
    )
    batch = buffer._gather(np.array([0, 3]), np.ones(2, np.float32))
    assert batch.weights.tolist() == [1.0, 1.0]  # _gather passes weights through
    # w_i = (N P(i))^-beta / max w: P = 1/8 and 1/2, N = 4, beta = 1 -> 2 and 0.5, normalised 1 and 0.25
    sample = buffer.sample(64, np.random.default_rng(1), beta=1.0)
    expected = {0: 1.0, 1: 1.0, 2: 0.5, 3: 0.25}
    assert all(
        w == pytest.approx(expected[i])
        for i, w in zip(sample.indices, sample.weights.tolist(), strict=True)
    )


def test_new_transitions_get_the_max_priority():
    buffer = ReplayBuffer(8, (1,), np.float32, prioritized=True, alpha=1.0, priority_eps=0.0)
    buffer.add([0], 0, 0.0, False, False, [1])
    buffer.update_priorities(np.array([0]), np.array([5.0]))
    buffer.add([1], 0, 0.0, False, False, [2])
    assert buffer.tree[1] == 5.0
