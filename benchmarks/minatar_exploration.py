"""What epsilon's random actions cost a trained MinAtar policy, drawn from all six actions or
from the game's minimal set (long-ish, not in CI).

    python benchmarks/minatar_exploration.py                      # Breakout DQN, seeds 0-2
    python benchmarks/minatar_exploration.py --episodes 50 --checkpoints DIR [DIR ...]
    python benchmarks/minatar_exploration.py --quick              # seed 0, 5 games each way

The full-action record (``benchmarks/minatar.py --actions full``) trains DQN higher on
Breakout than the minimal-set record, with greedy evaluations no better: the difference
is in the training return, which is played with epsilon 0.1. The explanation this script
tests: in Breakout three of the six actions do nothing (no-op, up, down), so a random
action out of six moves the paddle one time in three, where a random action out of the
minimal set (no-op, left, right) moves it two times in three, and a paddle moved at random
loses more balls. One trained policy, three ways of playing it, the same env seeds for
each:

* ``greedy``: epsilon 0;
* ``full``: with probability epsilon an action drawn from all six (as the ``-v0`` run
  trained);
* ``minimal``: with probability epsilon an action drawn from the minimal set (as a ``-v1``
  run trains), given to the six-action game by its index there.

If the explanation holds, ``minimal`` loses clearly more return against ``greedy`` than
``full`` does. The policies are the full-set DQN runs' latest checkpoints
(``runs/minatar-full/<game>-dqn-s<seed>``, or ``--checkpoints``). The record goes to
``docs/minatar-exploration.json`` (each policy's mean return each way and its standard
error, ``<mode>_se``); the last line printed is its JSON summary: ``ours`` is the mean
return with ``full`` exploration, ``peer`` with ``minimal``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:  # run as a script: import from
    sys.path[0] = str(HERE.parent)  # the repository, not benchmarks/ (its minatar.py would
    # hide the minatar package)
from benchmarks._records import ROOT  # noqa: E402
from benchmarks.minatar import env_id_of, run_dir_of  # noqa: E402

MODES = ("greedy", "full", "minimal")


def random_actions(env, mode: str) -> list[int] | None:
    """The actions an exploring step draws from in ``mode`` (indices of the env's action
    space); None for ``greedy``."""
    if mode == "greedy":
        return None
    if mode == "full":
        return list(range(env.action_space.n))
    return [int(a) for a in env.unwrapped.game.minimal_action_set()]


def play(agent, env, mode: str, episodes: int, epsilon: float, seed: int) -> list[float]:
    """Returns of ``episodes`` games played by ``agent``'s greedy policy with epsilon
    exploration of ``mode``; episode ``i`` resets with ``seed + i``, and the exploration's
    draws come from a generator of their own (the same for every mode)."""
    choices = random_actions(env, mode)
    rng = np.random.default_rng(seed)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            explore, pick = rng.random() < epsilon, rng.integers(1 << 30)
            if choices is not None and explore:
                action = choices[pick % len(choices)]
            else:
                action = int(agent.predict(obs)[0])
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="Breakout")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--checkpoints", nargs="+", type=Path, default=None)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--epsilon", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "minatar-exploration.json")
    parser.add_argument(
        "--quick", action="store_true", help="seed 0, 5 games each way, to runs/ (not docs/)"
    )
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.episodes = args.seeds[:1], 5
        args.out = ROOT / "runs" / "minatar-exploration-quick.json"

    import rlkit
    from rlkit.envs import make_env
    from rlkit.io import atomic_write_json

    sources = args.checkpoints or [
        run_dir_of(ROOT / "runs" / "minatar-full", args.game, "dqn", s) for s in args.seeds
    ]
    env_id = env_id_of(args.game, "full")
    env = make_env(env_id)  # every game resets with its own seed: one env serves them all
    policies = []
    for source in sources:
        agent = rlkit.load(source, device="cpu")
        if agent.env_id != env_id:
            raise SystemExit(f"{source} was trained on {agent.env_id}, not {env_id}")
        shown = source.resolve()
        shown = shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown
        row = {"source": str(shown), "steps": agent.steps}
        for mode in MODES:
            returns = play(agent, env, mode, args.episodes, args.epsilon, seed=10_000)
            row[mode] = round(float(np.mean(returns)), 2)
            row[f"{mode}_se"] = round(float(np.std(returns, ddof=1) / np.sqrt(len(returns))), 2)
            print(
                f"{source}: {mode} {row[mode]} +- {row[f'{mode}_se']} over {len(returns)} games",
                flush=True,
            )
        policies.append(row)
    sets = {m: random_actions(env, m) for m in ("full", "minimal")}
    env.close()
    mean = {m: round(float(np.mean([p[m] for p in policies])), 2) for m in MODES}
    data = {
        "bench": "minatar_exploration",
        "work": f"DQN on MinAtar {args.game} (full action set), {len(policies)} policies, "
        f"{args.episodes} games each way, epsilon {args.epsilon}",
        "ours": mean["full"],
        "peer": mean["minimal"],
        "unit": "mean game return with epsilon's random actions drawn from all six actions "
        "(peer: from the minimal set)",
        "ratio": round(mean["full"] / mean["minimal"], 3) if mean["minimal"] else None,
        "greedy": mean["greedy"],
        "random_action_sets": sets,
        "policies": policies,
    }
    atomic_write_json(args.out, data)
    print(json.dumps({k: v for k, v in data.items() if k != "policies"}))


if __name__ == "__main__":
    main()
