"""Rainbow's per-step costs on MinAtar against the formulations they replaced: the noisy
heads (acting and the network's part of an update) and the prioritized replay's store.

``rlkit.nn.NoisyLinear`` keeps its noise as the two factors; on a single row (acting) it
computes ``mu_w x + f(eps_out) * (sigma_w (f(eps_in) * x))``, and on a batch it builds the
noisy weights and multiplies. Until 2026-12-06 it built the ``out x in`` noise matrix at
each ``reset_noise`` and the noisy weights at every forward pass, one row or many.
``BuiltNoisyLinear`` below is that formulation, kept here to time against. Both sides run
the same network (MinAtar's DQN network with dueling C51 heads on 51 atoms, the Rainbow
preset of ``configs/dqn/MinAtar-*.rainbow.yaml``) on one thread:

* ``act``: new noise, then Q of one observation (what DQN does at every env step);
* ``update``: new noise for the target and the online network, the target network's
  distribution of 32 next observations, then the online network's log-probabilities of
  32 observations, a cross-entropy, its backward pass and an Adam step (the network's
  share of one gradient step; the replay and the projection are left out).

* ``store``: ``ReplayBuffer.add`` of one transition into a full prioritized replay (100k
  transitions, as the preset): the oldest is evicted and the new one gets the highest
  priority, two leaves of the sum tree set. ``rlkit.data.SumTree`` walks one leaf up to
  the root in plain Python; before 2026-12-06 every update took the batched walk
  (``BatchedSumTree`` below: numpy fancy indexing and ``np.unique`` at each of the 17
  levels, also for one leaf).

Rounds alternate the two sides; the medians count. The last line is the JSON result:
``ours`` and ``peer`` are ms per acting step (rlkit's layer, built), ``ratio`` built /
rlkit's; the update's and the store's figures ride along (the update does the same
arithmetic on both sides now, so a ratio near 1).

``--whole``: instead, whole runs of ``rlkit.train`` (the game's Rainbow preset, 12k steps
with a 5k replay so that stores evict), alternating rlkit's layer and sum tree with the
replaced formulations patched into the classes; seconds per run, start-up included.
``--passes``: the acting step and the update (target pass included) as DQN's loop takes
them with the preset, through rlkit's written-out pass and numpy acting
(``rlkit.nn.passes.WrittenOutHeadsQ``, ``NumpyHeadsQ``) against autograd's pass and the
module's acting (``written_out_backprop: false``), in alternating rounds; the JSON's
``ours`` and ``peer`` are ms per env step (an act, and a quarter of an update: the preset
updates every 4 steps). ``--whole --passes``: whole runs of the two.
``--tree``: the prioritized replay's part of one update (``sample`` of 32 transitions
from a full 100k replay, then ``update_priorities``) and its store, with the sum tree's
walks in C (``rlkit.data.sumtree``, the default where a compiler is at hand) against
its numpy walks, in alternating rounds; ``ours`` and ``peer`` are ms per update.
``--whole --tree``: whole runs of the two (the numpy side with the C kernel withheld).

    python benchmarks/rainbow_step.py [--rounds 5] [--game SpaceInvaders] [--whole] [--passes | --tree]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:  # run as a script: import from
    sys.path[0] = str(HERE.parent)  # the repository, not benchmarks/ (its minatar.py would
    # stand in for the minatar package)

from rlkit.agents import dqn  # noqa: E402
from rlkit.data import ReplayBuffer, SumTree  # noqa: E402
from rlkit.nn import NoisyLinear, reset_noise  # noqa: E402

N_ACTIONS = {"Breakout": 3, "SpaceInvaders": 6}  # MinAtar's full action set has 6
CHANNELS = {"Breakout": 4, "SpaceInvaders": 6}


RLKIT_SIDE = (NoisyLinear.reset_noise, NoisyLinear.forward, SumTree.update)
"""rlkit's own methods, kept before ``--whole`` patches the replaced ones into the classes
(so the replaced ones call these directly, not through ``super()``)."""


class BuiltNoisyLinear(NoisyLinear):
    """The formulation replaced on 2026-12-06: the noise matrix built at each
    ``reset_noise``, the noisy weights at each forward pass."""

    @torch.no_grad()
    def reset_noise(self, generator: torch.Generator | None = None) -> None:
        """Draw the factors as ``NoisyLinear`` does, then build their outer product."""
        RLKIT_SIDE[0](self, generator)
        self.matrix = torch.outer(self.bias_epsilon, self.input_epsilon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (mu_w + sigma_w * eps_w)^T + mu_b + sigma_b * eps_b``, the weights built."""
        if not self.training:  # the means: rlkit's own eval pass
            return RLKIT_SIDE[1](self, x)
        weight = self.weight_mu + self.weight_sigma * self.matrix
        bias = self.bias_mu + self.bias_sigma * self.bias_epsilon
        return nn.functional.linear(x, weight, bias)


class BatchedSumTree(SumTree):
    """The sum tree as it was before 2026-12-06: every update takes the batched walk (in
    numpy, as then: the built side of ``--whole`` withholds the C kernel)."""

    def update(self, index: np.ndarray | int, priority: np.ndarray | float) -> None:
        """``SumTree.update`` on a one-element batch, also for one leaf."""
        RLKIT_SIDE[2](self, np.atleast_1d(index), np.atleast_1d(priority))


def full_replay(game: str, tree: SumTree) -> tuple[ReplayBuffer, Callable[[], None]]:
    """A prioritized replay of the preset's size with ``tree``, filled, and its ``add`` of
    one more transition (which from then on evicts the oldest)."""
    shape = (CHANNELS[game], 10, 10)
    buffer = ReplayBuffer(
        100_000, shape, np.uint8, n_step=3, gamma=0.99, prioritized=True, alpha=0.5
    )
    buffer.tree = tree
    rng = np.random.default_rng(0)
    frames = (rng.random((64, *shape)) < 0.1).astype(np.uint8)  # MinAtar's object planes
    t = 0

    def add() -> None:
        nonlocal t
        t += 1
        end = t % 300 == 0  # episodes of 300 steps, as SpaceInvaders' early ones
        buffer.add(frames[t % 64], t % 6, 0.0, end, False, frames[(t + 1) % 64])

    for _ in range(100_000):
        add()
    return buffer, add


def store_step(game: str, batched: bool) -> Callable[[], Any]:
    """``add`` of one transition into a full prioritized replay of the preset's size."""
    tree = BatchedSumTree(100_000, native=False) if batched else SumTree(100_000)
    return full_replay(game, tree)[1]


def replay_steps(game: str, native: bool) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """One update's work in a full prioritized replay (``sample`` of 32 with beta 0.5, then
    ``update_priorities`` from TD errors as the loss hands them over) and one ``add``,
    with the sum tree's walks in C or in numpy."""
    buffer, add = full_replay(game, SumTree(100_000, native=native))
    rng = np.random.default_rng(1)
    td_errors = torch.randn(64, 32, generator=torch.Generator().manual_seed(2))
    t = 0

    def update() -> None:
        nonlocal t
        t += 1
        batch = buffer.sample(32, rng, beta=0.5)
        buffer.update_priorities(batch.indices, td_errors[t % 64])

    return update, add


def tree_rounds(game: str, rounds: int, update_calls: int, store_calls: int) -> None:
    """``--tree``: the replay's part of an update and a store, walks in C against numpy."""
    sides = sides_of(
        lambda native: replay_steps(game, native),
        {"c": True, "numpy": False},
        {"update": update_calls, "store": store_calls},
    )
    med = alternating_medians(sides, rounds)
    print(
        json.dumps(
            {
                "bench": "rainbow_replay",
                "work": f"prioritized replay of MinAtar {game} (100k transitions, 3-step, "
                f"alpha 0.5): sample 32 (beta 0.5) and update their priorities, as each "
                f"Rainbow update does; one thread, median of {rounds} alternating rounds",
                "ours": round(med["c"]["update"], 4),
                "peer": round(med["numpy"]["update"], 4),
                "unit": "ms per update (sample + update_priorities), sum tree walks in C; "
                "peer: the same walks in numpy",
                "ratio": round(med["numpy"]["update"] / med["c"]["update"], 3),
                "store_ms": against(med, "c", "numpy", "store"),
            }
        )
    )


def network(game: str, built: bool) -> nn.Module:
    """The Rainbow preset's Q-network for ``game``, with built or factorised noisy heads
    (the same initial weights either way)."""
    config = dqn.Config(
        distributional="c51", n_atoms=51, v_min=-100.0, v_max=100.0, dueling=True, noisy=True
    )
    shape = (CHANNELS[game], 10, 10)
    net = dqn.QNetwork(shape, N_ACTIONS[game], config, torch.Generator().manual_seed(0))
    if built:
        for name in ("value", "advantage"):
            layer = getattr(net, name)
            twin = BuiltNoisyLinear(layer.in_features, layer.out_features)
            twin.load_state_dict(layer.state_dict())
            twin.reset_noise(torch.Generator().manual_seed(1))
            setattr(net, name, twin)
    return net


def steps(game: str, built: bool) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The acting step and the update step of one side."""
    online, target = network(game, built), network(game, built)
    target.requires_grad_(False)
    generator = torch.Generator().manual_seed(2)
    optimizer = torch.optim.Adam(online.parameters(), lr=1e-4, eps=3.125e-4)
    rng = np.random.default_rng(0)
    shape = (CHANNELS[game], 10, 10)
    one = (rng.random(shape) < 0.1).astype(np.float32)
    obs = torch.as_tensor((rng.random((32, *shape)) < 0.1).astype(np.float32))
    next_obs = torch.as_tensor((rng.random((32, *shape)) < 0.1).astype(np.float32))
    actions = torch.as_tensor(rng.integers(N_ACTIONS[game], size=32))
    q_one = dqn.module_q_fn(online, torch.device("cpu"))

    def act() -> int:
        reset_noise(online, generator)
        return int(q_one(one).argmax())

    def update() -> float:
        reset_noise(target, generator)
        reset_noise(online, generator)
        with torch.no_grad():
            probs = target.distribution(next_obs).exp().mean(dim=1)  # (32, atoms)
        log_probs = online.distribution(obs)[torch.arange(32), actions]
        loss = -(probs * log_probs).sum(-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return act, update


def pass_steps(game: str, written: bool) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The acting step and the update step as DQN's loop takes them with the game's
    Rainbow preset, through the written-out pass and numpy acting (``written``) or
    autograd's pass and the module (``written_out_backprop: false``); the same weights,
    noise and batch on both sides."""
    from rlkit.config import load_config
    from rlkit.data.replay import Batch
    from rlkit.optim import optimizer_from_config

    path = HERE.parent / "configs" / "dqn" / f"MinAtar-{game}-v1.rainbow.yaml"
    config = load_config(dqn.Config, path, {"written_out_backprop": written})[0]
    shape = (CHANNELS[game], 10, 10)
    online = dqn.QNetwork(shape, N_ACTIONS[game], config, torch.Generator().manual_seed(0))
    target = dqn.QNetwork(shape, N_ACTIONS[game], config, torch.Generator().manual_seed(0))
    target.requires_grad_(False)
    model = dqn.q_model(online, config)
    assert model.written_out == written
    optimizer = optimizer_from_config(config, model.parameters(), lr=config.learning_rate)
    if written:
        from rlkit.nn.passes import NumpyHeadsQ

        q_one: Callable[[Any], Any] = NumpyHeadsQ(model, shape, online.support)
    else:
        q_one = dqn.module_q_fn(online, torch.device("cpu"))
    generator = torch.Generator().manual_seed(2)
    rng = np.random.default_rng(0)
    one = (rng.random(shape) < 0.1).astype(np.uint8)
    batch = Batch(
        obs=torch.as_tensor((rng.random((32, *shape)) < 0.1).astype(np.uint8)),
        actions=torch.as_tensor(rng.integers(N_ACTIONS[game], size=32)),
        rewards=torch.as_tensor(rng.random(32).astype(np.float32)),
        next_obs=torch.as_tensor((rng.random((32, *shape)) < 0.1).astype(np.uint8)),
        dones=torch.zeros(32),
        discounts=torch.full((32,), 0.99**3),
        weights=torch.as_tensor(rng.random(32).astype(np.float32)),
        indices=np.arange(32),
    )

    def act() -> int:
        reset_noise(online, generator)
        return int(np.argmax(np.asarray(q_one(one))))

    def update() -> float:
        reset_noise(target, generator)
        targets = dqn.bellman_targets(online, target, batch, config.double_q)
        reset_noise(online, generator)
        out = model(batch.obs, batch.actions)
        loss = dqn.loss_of(config, online, out, targets, batch.weights, True)
        model.backward(loss)
        optimizer.step()
        return float(loss.value.detach())

    return act, update


def passes(game: str, rounds: int, act_calls: int, update_calls: int) -> None:
    """Alternate the written-out and the autograd side; print each round and the JSON."""
    sides = sides_of(
        lambda written: pass_steps(game, written),
        {"written": True, "autograd": False},
        {"act": act_calls, "update": update_calls},
    )
    med = alternating_medians(sides, rounds)
    # per env step as the preset takes them: one act a step, one update every train_freq
    per_step = {s: med[s]["act"] + med[s]["update"] / 4 for s in sides}
    print(
        json.dumps(
            {
                "bench": "rainbow_pass",
                "work": f"Rainbow preset on MinAtar {game} (dueling noisy C51, 51 atoms, "
                f"{N_ACTIONS[game]} actions): acting step and update (target pass, forward, "
                f"backward, Adam) as DQN's loop takes them, one thread, median of {rounds} "
                "alternating rounds",
                "ours": round(per_step["written"], 4),
                "peer": round(per_step["autograd"], 4),
                "unit": "ms per env step (act + update / 4); peer: autograd's pass, acting "
                "through the module",
                "ratio": round(per_step["autograd"] / per_step["written"], 3),
                "act_ms": {s: round(med[s]["act"], 4) for s in sides},
                "update_ms": {s: round(med[s]["update"], 4) for s in sides},
            }
        )
    )


def per_call_ms(fn: Callable[[], Any], calls: int) -> float:
    """Milliseconds per call of ``fn`` over ``calls`` calls (after a tenth as many unclocked)."""
    for _ in range(max(calls // 10, 1)):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e3


def sides_of(
    make: Callable[[bool], tuple[Callable[[], Any], ...]],
    flags: dict[str, bool],
    calls: dict[str, int],
) -> dict[str, dict[str, tuple[Callable[[], Any], int]]]:
    """``alternating_medians``'s sides: for each side, ``make(flag)``'s functions (built side
    by side, in ``flags``' order) under the names of ``calls``, each with its call count."""
    return {
        side: dict(zip(calls, zip(make(flag), calls.values(), strict=True), strict=True))
        for side, flag in flags.items()
    }


def alternating_medians(
    sides: dict[str, dict[str, tuple[Callable[[], Any], int]]], rounds: int
) -> dict[str, dict[str, float]]:
    """Time each side's calls (``{side: {what: (fn, calls)}}``) in ``rounds`` rounds, the
    order of the sides alternating; print each round; the medians, ms per call."""
    times = {side: {what: [] for what in calls} for side, calls in sides.items()}
    for r in range(rounds):
        for side in list(sides) if r % 2 == 0 else list(reversed(sides)):
            for what, (fn, calls) in sides[side].items():
                times[side][what].append(per_call_ms(fn, calls))
        print(
            f"round {r}: "
            + ", ".join(
                f"{side} " + " ".join(f"{what} {t[-1]:.4f} ms" for what, t in whats.items())
                for side, whats in times.items()
            ),
            flush=True,
        )
    return {side: {w: statistics.median(t) for w, t in ts.items()} for side, ts in times.items()}


def against(med: dict[str, dict[str, float]], ours: str, peer: str, what: str) -> dict[str, float]:
    """``ours``, ``peer`` and ``ratio`` (peer / ours) of the medians of ``what``."""
    return {
        "ours": round(med[ours][what], 4),
        "peer": round(med[peer][what], 4),
        "ratio": round(med[peer][what] / med[ours][what], 3),
    }


def whole_runs(game: str, rounds: int, passes: bool = False, tree: bool = False) -> None:
    """Time whole Rainbow runs with rlkit's formulations against the replaced ones; with
    ``passes``, rlkit's written-out pass and numpy acting against autograd's pass and the
    module's acting (``written_out_backprop: false``), rlkit's formulations on both sides;
    with ``tree``, the sum tree's walks in C against numpy (the C kernel withheld)."""
    import tempfile

    import rlkit
    from rlkit.data import sumtree

    kernel = sumtree._kernel
    built = (BuiltNoisyLinear.reset_noise, BuiltNoisyLinear.forward, BatchedSumTree.update)
    if passes:
        sides = {
            "rlkit": (RLKIT_SIDE, {}, kernel),
            "autograd": (RLKIT_SIDE, {"written_out_backprop": False}, kernel),
        }
        peer = "the same runs through autograd's pass, acting through the module"
    elif tree:
        sides = {"rlkit": (RLKIT_SIDE, {}, kernel), "numpy": (RLKIT_SIDE, {}, lambda: None)}
        peer = "the same runs with the sum tree's walks in numpy"
    else:
        sides = {"rlkit": (RLKIT_SIDE, {}, kernel), "built": (built, {}, lambda: None)}
        peer = "the noisy heads and the sum tree as before 2026-12-06"
    seconds: dict[str, list[float]] = {s: [] for s in sides}
    try:
        for r in range(rounds):
            for side in list(sides) if r % 2 == 0 else list(reversed(sides)):
                methods, overrides, sumtree._kernel = sides[side]
                NoisyLinear.reset_noise, NoisyLinear.forward, SumTree.update = methods
                with tempfile.TemporaryDirectory() as folder:
                    start = time.perf_counter()
                    rlkit.train(
                        "dqn",
                        f"MinAtar/{game}-v1",
                        run_dir=f"{folder}/run",
                        progress=False,
                        seed=0,
                        config=str(
                            HERE.parent / "configs" / "dqn" / f"MinAtar-{game}-v1.rainbow.yaml"
                        ),
                        total_steps=12_000,
                        buffer_size=5_000,
                        eval_interval=0,
                        checkpoint_interval=0,
                        **overrides,
                    )
                    seconds[side].append(time.perf_counter() - start)
                print(f"round {r}: {side} {seconds[side][-1]:.1f} s", flush=True)
    finally:  # rlkit's own methods back, also when a run fails
        NoisyLinear.reset_noise, NoisyLinear.forward, SumTree.update = RLKIT_SIDE
        sumtree._kernel = kernel
    ours, theirs = (statistics.median(seconds[s]) for s in sides)
    print(
        json.dumps(
            {
                "bench": "rainbow_run",
                "work": f"rlkit Rainbow on MinAtar {game} (preset, 12k steps, 5k replay), whole "
                f"runs in one process, one thread, median of {rounds} alternating rounds",
                "ours": round(ours, 2),
                "peer": round(theirs, 2),
                "unit": f"s per run; peer: {peer}",
                "ratio": round(theirs / ours, 3),
            }
        )
    )


def main() -> None:
    """Alternate the two sides for ``--rounds`` rounds; print each round and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--game", choices=sorted(N_ACTIONS), default="SpaceInvaders")
    parser.add_argument("--act-calls", type=int, default=2000)
    parser.add_argument("--update-calls", type=int, default=300)
    parser.add_argument("--whole", action="store_true", help="time whole runs instead")
    parser.add_argument(
        "--passes",
        action="store_true",
        help="the written-out pass against autograd's (with --whole: whole runs)",
    )
    parser.add_argument(
        "--tree",
        action="store_true",
        help="the sum tree's walks in C against numpy (with --whole: whole runs)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the MinAtar records run: one thread a run
    if args.whole:
        whole_runs(args.game, args.rounds, passes=args.passes, tree=args.tree)
        return
    if args.tree:
        tree_rounds(args.game, args.rounds, args.update_calls * 10, args.act_calls)
        return
    if args.passes:
        passes(args.game, args.rounds, args.act_calls, args.update_calls)
        return
    sides = sides_of(
        lambda built: (*steps(args.game, built), store_step(args.game, built)),
        {"rlkit": False, "built": True},
        {"act": args.act_calls, "update": args.update_calls, "store": args.act_calls},
    )
    med = alternating_medians(sides, args.rounds)
    print(
        json.dumps(
            {
                "bench": "rainbow_step",
                "work": f"Rainbow's NoisyNet heads on MinAtar {args.game}'s DQN network "
                f"(dueling C51, 51 atoms, {N_ACTIONS[args.game]} actions) and its prioritized "
                f"100k replay, one thread, median of {args.rounds} alternating rounds",
                "ours": round(med["rlkit"]["act"], 4),
                "peer": round(med["built"]["act"], 4),
                "unit": "ms per acting step (new noise, Q of one observation); peer: the noise "
                "matrix and the noisy weights built, as before 2026-12-06",
                "ratio": round(med["built"]["act"] / med["rlkit"]["act"], 3),
                "update_ms": against(med, "rlkit", "built", "update"),
                "store_ms": against(med, "rlkit", "built", "store"),
            }
        )
    )


if __name__ == "__main__":
    main()
