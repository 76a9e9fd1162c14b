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
