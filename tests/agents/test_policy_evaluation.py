"""``policy-evaluation``: the exact value of any policy, from the CLI and the API, held
against the book, an independent dense solve, value iteration and play in the env."""

import json

import numpy as np
import pytest
import torch

from rlkit.agents.policy_evaluation import evaluate_policy, policy_table
from rlkit.bellman import value_iteration
from rlkit.envs import TabularMDP, make_env
from rlkit.evaluation import evaluate
from rlkit.planning import ProbabilityTablePolicy

BOOK = [  # Sutton & Barto, Figure 3.2: the uniform random policy, gamma = 0.9
    [3.3, 8.8, 4.4, 5.3, 1.5],
    [1.5, 3.0, 2.3, 1.9, 0.5],
    [0.1, 0.7, 0.7, 0.4, -0.4],
    [-1.0, -0.4, -0.4, -0.6, -1.2],
    [-1.9, -1.3, -1.2, -1.4, -2.0],
]


def test_the_cli_gives_the_books_figure_3_2(cli, tmp_path):
    code, out, err = cli(
        "train",
        "policy-evaluation",
        "rlkit/GridWorld5x5-v0",
        "--wandb",
        "disabled",
        "--run-dir",
        "r",
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert np.round(np.array(summary["values"]).reshape(5, 5), 1).tolist() == BOOK
    assert "v_start" in out


def test_a_stochastic_policy_equals_an_independent_dense_solve():
    mdp = TabularMDP.from_env(make_env("FrozenLake-v1"))
    rng = np.random.default_rng(0)
    table = rng.random((mdp.n_states, mdp.n_actions))
    table /= table.sum(axis=1, keepdims=True)
    values, q = evaluate_policy(mdp, torch.from_numpy(table), 0.95, torch.device("cpu"))
    # V = sum_a pi (R + gamma sum_s' P V), with P and R from the env's own table
    p = np.zeros((mdp.n_states, mdp.n_actions, mdp.n_states))
    r = np.zeros((mdp.n_states, mdp.n_actions))
    env = make_env("FrozenLake-v1").unwrapped
    for s, actions in env.P.items():
        for a, outcomes in actions.items():
            for prob, s2, reward, done in outcomes:
                r[s, a] += prob * reward
                if not done:
                    p[s, a, s2] += prob
    p_pi = np.einsum("sa,sat->st", table, p)
    r_pi = (table * r).sum(axis=1)
    exact = np.linalg.solve(np.eye(mdp.n_states) - 0.95 * p_pi, r_pi)
    np.testing.assert_allclose(values.numpy(), exact, atol=1e-10)
    np.testing.assert_allclose((table * q.numpy()).sum(axis=1), exact, atol=1e-10)


def test_the_optimal_policy_as_a_table_gives_value_iterations_values():
    mdp = TabularMDP.from_env(make_env("Taxi-v4"))
    solution = value_iteration(mdp.model(), 0.9, tol=1e-10)
    one_hot = torch.nn.functional.one_hot(solution.policy, mdp.n_actions).double()
    values, _ = evaluate_policy(mdp, one_hot, 0.9, torch.device("cpu"))
    assert torch.allclose(values, solution.values, atol=1e-8)


def test_playing_the_uniform_policy_earns_v_start():
    mdp = TabularMDP.from_env(make_env("rlkit/GridWorld5x5-v0"))
    table = policy_table("uniform", mdp.n_states, mdp.n_actions)
    values, _ = evaluate_policy(mdp, table, 0.9, torch.device("cpu"))
    v_start = float(mdp.initial @ values.numpy())
    episodes = 2000
    result = evaluate(
        ProbabilityTablePolicy(table, np.random.default_rng(0)),
        lambda: make_env("rlkit/GridWorld5x5-v0"),
        episodes,
        seed=1,
        gamma=0.9,
    )
    returns = np.array(result.discounted_returns)  # 100 steps: 0.9^100 is negligible
    assert abs(returns.mean() - v_start) <= 4 * returns.std(ddof=1) / np.sqrt(episodes)


@pytest.mark.parametrize(
    "content,message",
    [("0.5,0.5\n", "shape (1, 2)"), ("\n".join(["1,1,0,0"] * 25), "sum to 1")],
)
def test_a_bad_policy_table_is_refused(cli, tmp_path, content, message):
    (tmp_path / "pi.csv").write_text(content)
    code, _, err = cli("train", "policy-evaluation", "rlkit/GridWorld5x5-v0", "policy=pi.csv")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pi.csv"]
    code, _, err = cli("train", "policy-evaluation", "rlkit/GridWorld5x5-v0", "policy=pi.txt")
    assert code == 2 and "allowed: uniform, or a .npy or .csv file" in err


def test_a_policy_file_is_read_as_untrusted(cli, tmp_path):
    """Its declared shape (.npy) or its size (.csv) is checked before it is loaded; a
    pickled .npy is refused; a good .npy is taken."""
    import numpy as np

    np.lib.format.open_memmap(tmp_path / "huge.npy", mode="w+", dtype=np.float64, shape=(10**6, 4))
    code, _, err = cli("train", "policy-evaluation", "rlkit/GridWorld5x5-v0", "policy=huge.npy")
    assert code == 2 and "shape (1000000, 4)" in err
    (tmp_path / "big.csv").write_text("0.25,0.25,0.25,0.25\n" * 100_000)
    code, _, err = cli("train", "policy-evaluation", "rlkit/GridWorld5x5-v0", "policy=big.csv")
    assert code == 2 and "bytes" in err
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}] * 100, dtype=object).reshape(25, 4))
    code, _, err = cli("train", "policy-evaluation", "rlkit/GridWorld5x5-v0", "policy=objects.npy")
    assert code == 2 and "cannot read the policy table" in err and len(err.splitlines()) == 1
    np.save(tmp_path / "good.npy", np.full((25, 4), 0.25))
    code, _, err = cli(
        "train",
        "policy-evaluation",
        "rlkit/GridWorld5x5-v0",
        "policy=good.npy",
        "--wandb",
        "disabled",
        "--run-dir",
        "r",
    )
    assert code == 0, err
