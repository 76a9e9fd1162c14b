"""Optimizer step time: rlkit's Adam and Lion vs ``torch.optim.Adam`` in its fastest CPU mode.

Work: the parameters of a NatureCNN torso with a 6-action linear head (1.69M
parameters), gradients from one backward pass on a batch of 32 uint8 frames
(4x84x84). Each optimizer's ``step()`` is timed alone, over many repetitions, in
interleaved rounds (so machine noise hits all of them alike); the median round counts.

* torch: ``torch.optim.Adam`` with ``fused=True`` and with ``foreach=True``; the faster
  of the two is the peer.
* ours: ``rlkit.optim.Adam`` and ``rlkit.optim.Lion``, ``fused=True`` (the update
  function through ``torch.compile``) and eager.

The last line is the JSON result: ``ours`` is our fused Adam, ``ratio`` the peer's time
over ours (> 1: ours is faster); Lion's figures are in the extra keys.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
from torch import nn

from rlkit.nn import NatureCNN
from rlkit.optim import Adam, Lion


def model_with_grads(seed: int = 0) -> nn.Module:
    """NatureCNN + head with gradients of one batch-32 backward pass."""
    gen = torch.Generator().manual_seed(seed)
    model = nn.Sequential(NatureCNN(4, 512, generator=gen), nn.Linear(512, 6))
    frames = torch.randint(0, 256, (32, 4, 84, 84), dtype=torch.uint8, generator=gen)
    model(frames).square().mean().backward()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    steps, rounds = (50, 3) if args.quick else (200, 15)

    # Phase 1 (eager only) runs before anything is compiled: code compiled by
    # torch.compile brings its own OpenMP threads, which slow later eager ops here.
    phases = {
        "eager": {
            "torch_foreach": lambda p: torch.optim.Adam(p, lr=1e-4, foreach=True),
            "ours_adam_eager": lambda p: Adam(p, lr=1e-4),
            "ours_lion_eager": lambda p: Lion(p, lr=1e-5),
        },
        "fused": {
            "torch_fused": lambda p: torch.optim.Adam(p, lr=1e-4, fused=True),
            "ours_adam": lambda p: Adam(p, lr=1e-4, fused=True),
            "ours_lion": lambda p: Lion(p, lr=1e-5, fused=True),
        },
    }
    ms: dict[str, float] = {}
    for makers in phases.values():
        optimizers = {}
        for name, make in makers.items():
            opt = make(model_with_grads().parameters())
            start = time.perf_counter()
            for _ in range(3):  # warm-up, compilation included for the fused ones
                opt.step()
            print(f"{name}: warm-up {time.perf_counter() - start:.1f}s", file=sys.stderr)
            optimizers[name] = opt
        times: dict[str, list[float]] = {name: [] for name in optimizers}
        for _ in range(rounds):
            for name, opt in optimizers.items():
                start = time.perf_counter()
                for _ in range(steps):
                    opt.step()
                times[name].append((time.perf_counter() - start) / steps * 1e3)
        ms.update({name: statistics.median(values) for name, values in times.items()})
    for name, value in ms.items():
        print(f"{name}: {value:.3f} ms/step", file=sys.stderr)
    peer_name = min(("torch_fused", "torch_foreach"), key=ms.__getitem__)
    peer = ms[peer_name]
    print(
        json.dumps(
            {
                "bench": "optimizers",
                "work": "Adam step on NatureCNN+head params (1.69M), grads of batch 32, CPU",
                "ours": round(ms["ours_adam"], 4),
                "peer": round(peer, 4),
                "unit": "ms",
                "ratio": round(peer / ms["ours_adam"], 3),
                "peer_mode": peer_name,
                "lion_ms": round(ms["ours_lion"], 4),
                "lion_ratio": round(peer / ms["ours_lion"], 3),
                "adam_eager_ms": round(ms["ours_adam_eager"], 4),
                "lion_eager_ms": round(ms["ours_lion_eager"], 4),
                "torch_fused_ms": round(ms["torch_fused"], 4),
                "torch_foreach_ms": round(ms["torch_foreach"], 4),
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
