"""Returns and GAE against hand-computed rollouts with a truncation and a termination."""

import pytest
import torch

from rlkit.data.returns import discounted_returns, gae

# one env, 5 steps: episode A = steps 0-1, truncated after step 1 (its final observation
# is worth 10); episode B = steps 2-3, terminated after step 3; episode C starts at
# step 4 and is cut by the end of the rollout (the next observation is worth 4).
REWARDS = torch.tensor([[1.0], [2.0], [3.0], [4.0], [5.0]])
VALUES = torch.tensor([[0.5], [1.5], [2.5], [3.5], [4.5]])
NEXT_VALUES = torch.tensor([[1.5], [10.0], [3.5], [99.0], [4.0]])  # 99: never used (terminated)
TERMINATED = torch.tensor([[0], [0], [0], [1], [0]])
ENDED = torch.tensor([[0], [1], [0], [1], [0]])
G, L = 0.5, 0.8


def test_discounted_returns_by_hand():
    out = discounted_returns(REWARDS, NEXT_VALUES, TERMINATED, ENDED, G).flatten().tolist()
    g1 = 2 + 0.5 * 10  # truncation: bootstrap from the final observation
    g0 = 1 + 0.5 * g1
    g3 = 4.0  # termination: nothing after
    g2 = 3 + 0.5 * g3
    g4 = 5 + 0.5 * 4  # end of rollout: bootstrap
    assert out == pytest.approx([g0, g1, g2, g3, g4])


def test_gae_by_hand():
    adv, ret = gae(REWARDS, VALUES, NEXT_VALUES, TERMINATED, ENDED, G, L)
    d = [1 + 0.5 * 1.5 - 0.5, 2 + 0.5 * 10 - 1.5, 3 + 0.5 * 3.5 - 2.5, 4 - 3.5, 5 + 0.5 * 4 - 4.5]
    a4 = d[4]
    a3 = d[3]  # the episode ended: no advantage flows back across it
    a2 = d[2] + G * L * a3
    a1 = d[1]
    a0 = d[0] + G * L * a1
    assert adv.flatten().tolist() == pytest.approx([a0, a1, a2, a3, a4])
    assert ret.flatten().tolist() == pytest.approx(
        [a + v for a, v in zip([a0, a1, a2, a3, a4], VALUES.flatten().tolist(), strict=True)]
    )


def test_gae_with_lambda_one_gives_the_discounted_returns():
    _, ret = gae(REWARDS, VALUES, NEXT_VALUES, TERMINATED, ENDED, G, 1.0)
    assert torch.allclose(ret, discounted_returns(REWARDS, NEXT_VALUES, TERMINATED, ENDED, G))


def test_several_envs_are_independent():
    two = lambda x: torch.cat([x, x.flip(0)], dim=1)  # noqa: E731
    adv, _ = gae(two(REWARDS), two(VALUES), two(NEXT_VALUES), two(TERMINATED), two(ENDED), G, L)
    single, _ = gae(REWARDS, VALUES, NEXT_VALUES, TERMINATED, ENDED, G, L)
    assert torch.allclose(adv[:, :1], single)
