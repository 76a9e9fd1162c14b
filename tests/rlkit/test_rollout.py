"""The rollout buffer: next values at truncations, GAE through it, minibatches and sequences."""

import numpy as np
import pytest
import torch

from rlkit.data import RolloutBuffer
from rlkit.data.returns import gae


def filled_buffer() -> RolloutBuffer:
    # one env, 5 steps: episode A = steps 0-1, truncated after step 1 (its final observation
    # is worth 10); episode B = steps 2-3, terminated after step 3; episode C starts at step 4
    buf = RolloutBuffer(5, 1, (2,), np.float32)
    rewards = [1.0, 2.0, 3.0, 4.0, 5.0]
    values = [0.5, 1.5, 2.5, 3.5, 4.5]
    terminated = [0, 0, 0, 1, 0]
    truncated = [0, 1, 0, 0, 0]
    starts = [1, 0, 1, 0, 1]
    for t in range(5):
        row = buf.add(
            np.full((1, 2), t),
            np.array([t % 2]),
            np.zeros(1),
            np.array([values[t]]),
            np.array([rewards[t]]),
            np.array([terminated[t]]),
            np.array([truncated[t]]),
            np.array([starts[t]]),
        )
        if truncated[t]:
            buf.set_final_values(row, np.array([0]), np.array([10.0]))
    return buf


def test_next_values_bootstrap_truncations_not_terminations():
    buf = filled_buffer()
    # inside episodes the next row's value; 10 after the truncation; 0 after the
    # termination; the value after the rollout (4) for the last row
    assert buf.next_values(np.array([4.0]))[:, 0].tolist() == [1.5, 10.0, 3.5, 0.0, 4.0]


def test_finish_gives_the_hand_computed_gae():
    buf = filled_buffer()
    buf.finish(np.array([4.0]), gamma=0.5, gae_lambda=0.8)
    d = [1 + 0.5 * 1.5 - 0.5, 2 + 0.5 * 10 - 1.5, 3 + 0.5 * 3.5 - 2.5, 4 - 3.5, 5 + 0.5 * 4 - 4.5]
    expected = [d[0] + 0.4 * d[1], d[1], d[2] + 0.4 * d[3], d[3], d[4]]
    assert buf.advantages[:, 0].tolist() == pytest.approx(expected)
    assert buf.returns[:, 0].tolist() == pytest.approx(
        [a + v for a, v in zip(expected, [0.5, 1.5, 2.5, 3.5, 4.5], strict=True)]
    )
    # Monte-Carlo (gae_lambda=None): discounted returns and G - V
    buf.finish(np.array([4.0]), gamma=0.5, gae_lambda=None)
    g1 = 2 + 0.5 * 10
    assert buf.returns[:, 0].tolist() == pytest.approx(
        [1 + 0.5 * g1, g1, 3 + 0.5 * 4, 4, 5 + 0.5 * 4]
    )


def test_minibatches_cover_every_row_once_and_sequences_keep_time_order():
    buf = RolloutBuffer(4, 3, (1,), np.float32)
    for t in range(4):
        obs = np.array([[10 * t + i] for i in range(3)], dtype=np.float32)
        buf.add(
            obs,
            np.zeros(3),
            np.zeros(3),
            np.zeros(3),
            np.zeros(3),
            np.zeros(3),
            np.zeros(3),
            np.zeros(3),
        )
    buf.finish(np.zeros(3), 0.99, 0.95)
    seen = torch.cat([b.obs[:, 0] for b in buf.minibatches(4, torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == sorted(10.0 * t + i for t in range(4) for i in range(3))
    for batch in buf.sequences(2, torch.Generator().manual_seed(0)):
        for k, env in enumerate(batch.env_indices.tolist()):
            assert batch.obs[:, k, 0].tolist() == [10.0 * t + env for t in range(4)]
    with pytest.raises(RuntimeError, match="full"):
        buf.add(*([np.zeros(3)] * 8))


def test_gae_through_the_buffer_equals_the_function():
    rng = np.random.default_rng(0)
    buf = RolloutBuffer(6, 2, (1,), np.float32)
    data = [rng.normal(size=(6, 2)).astype(np.float32) for _ in range(2)]
    ends = rng.random((6, 2)) < 0.3
    for t in range(6):
        buf.add(
            np.zeros((2, 1)),
            np.zeros(2),
            np.zeros(2),
            data[1][t],
            data[0][t],
            ends[t],
            np.zeros(2),
            np.zeros(2),
        )
    buf.finish(np.ones(2), 0.9, 0.7)
    t = torch.from_numpy
    following = np.concatenate([data[1][1:], np.ones((1, 2), np.float32)])
    next_values = np.where(ends, 0.0, following).astype(np.float32)
    adv, _ = gae(t(data[0]), t(data[1]), t(next_values), t(ends), t(ends), 0.9, 0.7)
    assert torch.allclose(buf.advantages, adv)


def image_buffer(channels_last: bool, seed: int) -> RolloutBuffer:
    """3 steps of 4 envs of random uint8 (4, 6, 5) frames, values and rewards."""
    rng = np.random.default_rng(seed)
    buf = RolloutBuffer(3, 4, (4, 6, 5), np.uint8, channels_last=channels_last)
    for _ in range(3):
        buf.add(
            rng.integers(0, 256, (4, 4, 6, 5), dtype=np.uint8),
            rng.integers(0, 3, 4),
            rng.normal(size=4),
            rng.normal(size=4),
            rng.normal(size=4),
            np.zeros(4),
            np.zeros(4),
            np.zeros(4),
        )
    buf.finish(np.zeros(4), 0.99, 0.95)
    return buf


def test_take_rows_is_indexing_in_the_tensors_own_layout():
    from rlkit.data.rollout import take_rows

    x = torch.arange(7 * 3 * 4 * 5, dtype=torch.float32).reshape(7, 3, 4, 5)
    idx = torch.tensor([6, 0, 3, 3])
    cl = x.contiguous(memory_format=torch.channels_last)
    for t in (x, cl, x[:, 0], x[:, 0, 0, 0]):
        assert torch.equal(take_rows(t, idx), t[idx])
    assert take_rows(cl, idx).is_contiguous(memory_format=torch.channels_last)
    assert take_rows(x, idx).is_contiguous()


def test_a_channels_last_buffer_gives_the_same_minibatches_laid_out_channels_last():
    plain, cl = image_buffer(False, 0), image_buffer(True, 0)
    for epoch in range(2):  # the rows are reordered once, and reused by every epoch
        a = list(plain.minibatches(5, torch.Generator().manual_seed(epoch)))
        b = list(cl.minibatches(5, torch.Generator().manual_seed(epoch)))
        assert [len(x.actions) for x in b] == [5, 5, 2]
        for x, y in zip(a, b, strict=True):
            assert torch.equal(x.obs, y.obs) and torch.equal(x.advantages, y.advantages)
            assert torch.equal(x.actions, y.actions) and torch.equal(x.returns, y.returns)
            assert y.obs.is_contiguous(memory_format=torch.channels_last)
            assert x.obs.is_contiguous()
    # a new rollout in the same buffer: its own rows, not the last rollout's
    fresh = image_buffer(True, 1)
    cl.reset()
    for t in range(3):
        cl.add(
            fresh.obs[t],
            fresh.actions[t],
            fresh.log_probs[t],
            fresh.values[t],
            fresh.rewards[t],
            fresh.terminated[t],
            fresh.ended[t],
            fresh.episode_starts[t],
        )
    cl.finish(np.zeros(4), 0.99, 0.95)
    again = next(cl.minibatches(12, torch.Generator().manual_seed(0)))
    expected = next(fresh.minibatches(12, torch.Generator().manual_seed(0)))
    assert torch.equal(again.obs, expected.obs)
    assert not torch.equal(
        again.obs, next(plain.minibatches(12, torch.Generator().manual_seed(0))).obs
    )
