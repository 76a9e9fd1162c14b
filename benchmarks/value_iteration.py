"""Value iteration at scale: rlkit's planner vs pymdptoolbox and a scipy.sparse loop.

Work: a random sparse MDP (S states, 4 actions, 3 successors per state-action, rewards
uniform in [0, 1), gamma 0.99), every method run until its max error against the exact
value is <= 1e-6. The exact value comes from policy iteration with a Krylov solve
(scipy's bicgstab) and is certified by its Bellman residual:
``|V - V*| <= |T V - V| / (1 - gamma)``.

* ours: ``rlkit.bellman.value_iteration`` with its default method (modified policy
  iteration stopped by MacQueen's bounds, which *guarantee* the error), in torch on
  the CPU; its peak resident memory is measured in a child process.
* peer: pymdptoolbox's ``ValueIteration``, patched as the issue asks: its input check
  (dense S x S comparisons) and its ``_boundIter`` (which walks every column of P,
  O(S^2)) are skipped, and its
  span-based stop (which returns values far from V* at gamma 0.99) is replaced by the
  oracle stop "max error vs the exact value <= tol"; the time of that check is
  subtracted. Its Bellman sweep (per-action scipy CSR products) is untouched.
* scipy loop: plain value iteration with one scipy CSR product per sweep, same stop.

Usage: ``python benchmarks/value_iteration.py [--quick] [--states S]``. The last line
is the JSON result; ``ratio`` is peer time / our time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from rlkit.bellman import TabularModel, value_iteration
from rlkit.envs import TabularMDP

GAMMA = 0.99
TOL = 1e-6


def ours(
    mdp: TabularMDP, method: str = "modified"
) -> tuple[np.ndarray, np.ndarray, float, float, int]:
    """Return values, policy, build seconds, solve seconds, sweeps."""
    start = time.perf_counter()
    model = TabularModel.from_arrays(mdp.successors, mdp.probs, mdp.rewards)
    built = time.perf_counter()
    solution = value_iteration(model, GAMMA, tol=TOL, method=method)
    done = time.perf_counter()
    return (
        solution.values.numpy(),
        solution.policy.numpy(),
        built - start,
        done - built,
        solution.sweeps,
    )


def scipy_kernel(mdp: TabularMDP) -> sp.csr_matrix:
    """(S*A, S) CSR transition matrix."""
    n, a, k = mdp.successors.shape
    indptr = np.arange(0, n * a * k + 1, k)
    return sp.csr_matrix(
        (mdp.probs.reshape(-1), mdp.successors.reshape(-1), indptr), shape=(n * a, n)
    )


def exact_values(
    kernel: sp.csr_matrix, rewards: np.ndarray, policy: np.ndarray
) -> tuple[np.ndarray, float]:
    """Policy iteration with bicgstab evaluations; returns V* and its certified error bound."""
    n, a = rewards.shape
    rows = np.arange(n)
    eye = sp.identity(n, format="csr")
    for _ in range(50):
        p_pi = kernel[rows * a + policy]
        r_pi = rewards[rows, policy]
        values, info = spla.bicgstab(eye - GAMMA * p_pi, r_pi, rtol=1e-15, atol=0.0, maxiter=20_000)
        q = rewards + GAMMA * (kernel @ values).reshape(n, a)
        best = q.max(1)
        keep = q[rows, policy] >= best - 1e-12
        improved = np.where(keep, policy, q.argmax(1))
        if (improved == policy).all():
            residual = float(np.abs(best - values).max())
            return values, residual / (1 - GAMMA)
        policy = improved
    raise RuntimeError("exact solve did not stabilise")


def scipy_loop(kernel: sp.csr_matrix, rewards: np.ndarray, exact: np.ndarray) -> tuple[float, int]:
    """Plain value iteration until max error <= TOL; returns (seconds, sweeps)."""
    n, a = rewards.shape
    values = np.zeros(n)
    check_s, sweeps = 0.0, 0
    start = time.perf_counter()
    while True:
        values = (rewards + GAMMA * (kernel @ values).reshape(n, a)).max(1)
        sweeps += 1
        t = time.perf_counter()
        done = np.abs(values - exact).max() <= TOL
        check_s += time.perf_counter() - t
        if done:
            return time.perf_counter() - start - check_s, sweeps


def pymdptoolbox_patched(mdp: TabularMDP, exact: np.ndarray) -> tuple[float, int]:
    """pymdptoolbox's ValueIteration with the two patches described above."""
    import mdptoolbox.mdp
    from mdptoolbox.mdp import ValueIteration

    # its input check compares sparse matrices with 0 densely (S x S booleans)
    mdptoolbox.mdp._util.check = lambda transitions, reward: None

    n, a, k = mdp.successors.shape
    transitions = []
    for action in range(a):
        indptr = np.arange(0, n * k + 1, k)
        transitions.append(
            sp.csr_matrix(
                (mdp.probs[:, action].reshape(-1), mdp.successors[:, action].reshape(-1), indptr),
                shape=(n, n),
            )
        )

    class Patched(ValueIteration):
        def _boundIter(self, epsilon):  # noqa: N802 - pymdptoolbox's name
            self.max_iter = 10**9  # skip the O(S^2) bound

        def run(self):
            check_s = 0.0
            start = time.perf_counter()
            while True:
                self.iter += 1
                self.policy, self.V = self._bellmanOperator()
                t = time.perf_counter()
                done = np.abs(self.V - exact).max() <= TOL
                check_s += time.perf_counter() - t
                if done:
                    break
            self.time = time.perf_counter() - start - check_s

    solver = Patched(transitions, mdp.rewards, GAMMA, epsilon=TOL)
    solver.run()
    return solver.time, solver.iter


def child_peak_rss(n_states: int) -> int:
    """Peak RSS (bytes) of a fresh process that makes the MDP and runs only our planner."""
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from benchmarks.value_iteration import ours; from envs import TabularMDP;"
        f"mdp = TabularMDP.random({n_states}, 4, 3, seed=0); ours(mdp);"
        "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    )
    # VmHWM is the peak of this process's own memory (ru_maxrss would carry the
    # parent's peak across fork + exec)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="S = 20,000 instead of 1,000,000")
    parser.add_argument("--states", type=int, default=None, help="number of states S")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: all)"
    )
    args = parser.parse_args()
    n_states = args.states or (20_000 if args.quick else 1_000_000)
    if args.threads:
        torch.set_num_threads(args.threads)

    mdp = TabularMDP.random(n_states, 4, 3, seed=0)
    print(f"random MDP: S={n_states:,}, A=4, K=3, gamma={GAMMA}, tol={TOL}", file=sys.stderr)

    v_ours, pi_ours, build_s, ours_s, ours_sweeps = ours(mdp)
    print(f"ours: build {build_s:.2f}s, solve {ours_s:.2f}s, {ours_sweeps} sweeps", file=sys.stderr)
    _, _, _, macq_s, macq_sweeps = ours(mdp, method="macqueen")
    print(f"ours (method=macqueen): solve {macq_s:.2f}s, {macq_sweeps} sweeps", file=sys.stderr)

    kernel = scipy_kernel(mdp)
    exact, certified = exact_values(kernel, mdp.rewards, pi_ours)
    err_ours = float(np.abs(v_ours - exact).max())
    print(
        f"exact solve certified to {certified:.1e}; our max error {err_ours:.2e}", file=sys.stderr
    )
    if err_ours > TOL:
        raise SystemExit(f"our error {err_ours} exceeds {TOL}")

    scipy_s, scipy_sweeps = scipy_loop(kernel, mdp.rewards, exact)
    print(f"scipy loop: {scipy_s:.2f}s, {scipy_sweeps} sweeps", file=sys.stderr)
    peer_s, peer_sweeps = pymdptoolbox_patched(mdp, exact)
    print(f"pymdptoolbox (patched): {peer_s:.2f}s, {peer_sweeps} sweeps", file=sys.stderr)
    rss = child_peak_rss(n_states)
    print(f"ours peak RSS: {rss / 2**30:.2f} GiB", file=sys.stderr)
    print(
        json.dumps(
            {
                "bench": "value_iteration",
                "work": f"random sparse MDP S={n_states} A=4 K=3 gamma={GAMMA}, max error <= {TOL}",
                "ours": round(ours_s, 3),
                "peer": round(peer_s, 3),
                "unit": "s",
                "ratio": round(peer_s / ours_s, 2),
                "peer_name": "pymdptoolbox ValueIteration (patched)",
                "scipy_loop_s": round(scipy_s, 3),
                "ours_macqueen_s": round(macq_s, 3),
                "ours_build_s": round(build_s, 3),
                "ours_sweeps": ours_sweeps,
                "peer_sweeps": peer_sweeps,
                "scipy_sweeps": scipy_sweeps,
                "ours_max_error": err_ours,
                "exact_certified_error": certified,
                "ours_peak_rss_bytes": rss,
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
