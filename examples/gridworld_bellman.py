"""The Bellman equations on Sutton & Barto's 5x5 gridworld, in a few lines of numpy.

    python examples/gridworld_bellman.py

An MDP is states ``S``, actions ``A``, a transition law ``P[s, a, s']``, rewards
``R[s, a]`` and a discount ``gamma``. For a policy ``pi[s, a]`` the value of a state is
the expected discounted return from it, and it satisfies the **Bellman expectation
equation**

    v(s) = sum_a pi(a|s) (R[s, a] + gamma sum_s' P[s, a, s'] v(s')),

which is linear in ``v``: with ``r_pi = sum_a pi R`` and ``P_pi = sum_a pi P`` it reads
``v = r_pi + gamma P_pi v``, so ``v = (I - gamma P_pi)^-1 r_pi``, one linear solve. The
best achievable value satisfies the **Bellman optimality equation**

    v*(s) = max_a (R[s, a] + gamma sum_s' P[s, a, s'] v*(s')),

which is not linear (the max), but its right-hand side is a gamma-contraction, so
applying it again and again (**value iteration**) converges to ``v*`` from any start,
the error shrinking by ``gamma`` a sweep; acting greedily on ``v*`` is an optimal policy.

The gridworld (``rlkit/GridWorld5x5-v0``, the book's Example 3.5): from A every action
jumps to A' with reward +10, from B to B' with +5, a move off the grid stays with -1.
With gamma = 0.9 the uniform random policy's values are the book's Figure 3.2 and the
optimal values its Figure 3.5. Both are also what rlkit's planners give
(``rlkit train policy-evaluation rlkit/GridWorld5x5-v0``, ``... value-iteration ...``).
"""

from __future__ import annotations

import numpy as np

from rlkit.envs import TabularMDP, make_env

GAMMA = 0.9
ARROWS = "<v>^"  # the env's actions: 0 left, 1 down, 2 right, 3 up


def gridworld() -> tuple[np.ndarray, np.ndarray]:
    """The gridworld's dense ``P[S, A, S']`` and ``R[S, A]``."""
    env = make_env("rlkit/GridWorld5x5-v0")
    mdp = TabularMDP.from_env(env)
    env.close()
    return mdp.P, mdp.rewards


def evaluate(P: np.ndarray, R: np.ndarray, pi: np.ndarray, gamma: float) -> np.ndarray:  # noqa: N803
    """The Bellman expectation equation solved exactly: ``(I - gamma P_pi) v = r_pi``."""
    r_pi = (pi * R).sum(axis=1)
    P_pi = np.einsum("sa,sat->st", pi, P)  # noqa: N806 - the textbook name
    return np.linalg.solve(np.eye(len(R)) - gamma * P_pi, r_pi)


def value_iteration(
    P: np.ndarray,  # noqa: N803
    R: np.ndarray,  # noqa: N803
    gamma: float,
    tol: float = 1e-10,
) -> tuple[np.ndarray, int]:
    """The Bellman optimality operator applied from ``v = 0`` until the value is within
    ``tol`` of ``v*`` (sup norm): a sweep that moved ``v`` by ``d`` leaves it within
    ``gamma d / (1 - gamma)`` of the fixed point. Returns ``(v, sweeps)``."""
    v = np.zeros(len(R))
    sweeps = 0
    while True:
        new = (R + gamma * P @ v).max(axis=1)
        sweeps += 1
        moved = float(np.abs(new - v).max())
        v = new
        if gamma * moved / (1 - gamma) <= tol:
            return v, sweeps


def greedy(P: np.ndarray, R: np.ndarray, v: np.ndarray, gamma: float) -> np.ndarray:  # noqa: N803
    """The actions that attain the max in the optimality equation, per state (ties kept)."""
    q = R + gamma * P @ v
    return np.isclose(q, q.max(axis=1, keepdims=True), rtol=0, atol=1e-9)


def main() -> dict[str, np.ndarray]:
    """Print the random policy's values, the optimal values and an optimal policy."""
    P, R = gridworld()  # noqa: N806
    uniform = np.full(R.shape, 1 / R.shape[1])
    v_random = evaluate(P, R, uniform, GAMMA)
    v_star, sweeps = value_iteration(P, R, GAMMA)
    best = greedy(P, R, v_star, GAMMA)
    # the greedy policy's own value is v*: it solves the expectation equation too
    pi_star = best / best.sum(axis=1, keepdims=True)
    v_greedy = evaluate(P, R, pi_star, GAMMA)
    print(f"uniform random policy, gamma {GAMMA} (Sutton & Barto, Figure 3.2):")
    print(np.array2string(v_random.reshape(5, 5), precision=1, floatmode="fixed"))
    print(f"optimal values after {sweeps} sweeps of value iteration (Figure 3.5):")
    print(np.array2string(v_star.reshape(5, 5), precision=1, floatmode="fixed"))
    print("optimal actions (every action is optimal in A and B, which jump whatever is done):")
    for row in range(5):
        cells = ("".join(ARROWS[a] for a in range(4) if best[row * 5 + col, a]) for col in range(5))
        print("  " + " ".join(f"{cell:4s}" for cell in cells))
    print(
        f"largest gap between v* and the greedy policy's exact value: "
        f"{np.abs(v_star - v_greedy).max():.1e}"
    )
    return {
        "v_random": v_random,
        "v_star": v_star,
        "sweeps": np.array(sweeps),
        "optimal_actions": best,
        "v_greedy": v_greedy,
    }


if __name__ == "__main__":
    main()
