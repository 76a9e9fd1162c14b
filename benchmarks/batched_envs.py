"""Env steps per second of rlkit's batched torch CartPole against Gymnasium's numpy one.

    python benchmarks/batched_envs.py [--sizes 4096 65536] [--rounds 7] [--device cpu]

Peer: Gymnasium's own vectorised CartPole, ``gymnasium.make_vec("CartPole-v1", n,
vectorization_mode="vector_entry_point")`` (numpy, one array per state variable). Ours:
``rlkit.make_vector_env("CartPole-v1", n, backend="torch")`` three ways: its default on
the CPU, the native kernel (``rlkit.envs.native``: C compiled once, before timing); the
torch operations eager (``native=False``); and with ``compile=True`` (``torch.compile`` of
the step; its compilation is done before timing and reported apart). On a GPU the native
kernel does not apply. Both sides take the same pre-drawn random actions (numpy arrays for the
peer, tensors on the device for ours) and autoreset the same way; each round times
``steps`` steps of every variant in turn, and the median round counts (the machine is
shared). One JSON line per size; ``ours`` is the fastest of our variants.

Targets (issue 24): >= 2x the peer at 4,096 envs, no slower at 65,536 (CPU); on a GPU
>= 200M steps/s at 65,536 envs and >= 1B at 1,048,576.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

from rlkit.envs.batched import make_batched_env


def timed(step, actions, steps: int, sync) -> float:
    """Seconds for ``steps`` calls of ``step`` cycling through ``actions``."""
    sync()
    start = time.perf_counter()
    for i in range(steps):
        step(actions[i % len(actions)])
    sync()
    return time.perf_counter() - start


def measure(n: int, rounds: int, device: str) -> dict:
    """Median env steps/s of the peer and of our eager and compiled envs at ``n`` envs."""
    steps = max(20, min(500, 2_000_000 // n))
    rng = np.random.default_rng(0)
    np_actions = [rng.integers(0, 2, n) for _ in range(8)]
    torch_actions = [torch.as_tensor(a, device=device) for a in np_actions]
    sync = torch.cuda.synchronize if device.startswith("cuda") else lambda: None
    variants = {}
    if device == "cpu":
        peer = gym.make_vec("CartPole-v1", n, vectorization_mode="vector_entry_point")
        peer.reset(seed=0)
        variants["peer"] = (peer.step, np_actions)
    if device == "cpu":
        native = make_batched_env("CartPole-v1", n, device=device, seed=0, native=True)
        variants["ours_native"] = (native.step, torch_actions)
    eager = make_batched_env("CartPole-v1", n, device=device, seed=0, native=False)
    variants["ours_eager"] = (eager.step, torch_actions)
    fused = make_batched_env("CartPole-v1", n, device=device, seed=0, compile=True)
    start = time.perf_counter()
    fused.step(torch_actions[0])
    sync()
    compile_s = time.perf_counter() - start
    variants["ours_compiled"] = (fused.step, torch_actions)
    for step, actions in variants.values():  # warm-up
        timed(step, actions, 5, sync)
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (step, actions) in variants.items():
            rates[name].append(n * steps / timed(step, actions, steps, sync) / 1e6)
    median = {name: statistics.median(values) for name, values in rates.items()}
    ours = max(value for name, value in median.items() if name.startswith("ours"))
    result = {
        "bench": "batched_envs",
        "work": f"CartPole-v1, {n:,} envs, {device}, {steps} random steps x {rounds} rounds",
        "ours": round(ours, 2),
        "unit": "M env steps/s (median round)",
        **({"ours_native": round(median["ours_native"], 2)} if "ours_native" in median else {}),
        "ours_eager": round(median["ours_eager"], 2),
        "ours_compiled": round(median["ours_compiled"], 2),
        "compile_s": round(compile_s, 1),
        "torch_threads": torch.get_num_threads(),
    }
    if "peer" in median:
        target = 2.0 if n <= 4096 else 1.0
        result.update(
            peer=round(median["peer"], 2),
            ratio=round(ours / median["peer"], 3),
            target=target,
            target_met=ours / median["peer"] >= target,
        )
    else:
        floor = {65_536: 200.0, 1_048_576: 1000.0}.get(n)
        result.update(peer=None, ratio=None, target=floor, target_met=None)
        if floor is not None:
            result["target_met"] = ours >= floor
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4096, 65536])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    for n in args.sizes:
        print(json.dumps(measure(n, args.rounds, args.device)), flush=True)


if __name__ == "__main__":
    main()
