"""Atari speed against its compute floor: PPO and DQN on PongNoFrameskip-v4, ours and SB3.

For each algorithm, on the config file's settings (PPO: CleanRL / zoo, 8 envs x 128
steps, 4 epochs of 256-row minibatches; DQN: Nature / CleanRL, a batch-32 gradient step
every 4 env steps with its target pass), each round (``--rounds``, below) measures:

* env-only steps/s of each backend (``sync``: gymnasium's ``SyncVectorEnv`` of the Python
  pipeline; ``async``: one process per env; ``ale``: ale-py's C++ vector env), random
  actions;
* the network's own cost: acting on the envs' batch, PPO's update per sample (forward,
  backward, Adam over a 256-row minibatch), DQN's gradient step (target pass, forward,
  backward, Adam); each in float32, bf16 autocast and channels-last, the fastest kept;
* the floor these imply per env step (PPO: env + act / n_envs + n_epochs x update per
  sample; DQN: env + act + gradient step / train_freq) and the steps/s it allows;
* rlkit's training steps/s (every backend), SB3's on the same config, and the fractions
  ``rlkit / floor`` and ``rlkit / SB3``;
* the ``ale`` runs' own profiles (``rlkit.timing``, ``RLKIT_PROFILE=1``): the share of
  the run's wall time in each phase of its loop, and ``floor_share``, the share in the
  phases that make up the floor (env, act, update; DQN's target pass too). Network and
  env costs timed alone meet a quiet cache and the whole machine; inside a run they do
  not, so ``floor_share`` is the fraction of its floor a run reaches, measured where it
  runs (``1 - floor_share`` is the overhead to remove).

The machine is shared and its speed drifts within minutes (one run measured the isolated
DQN gradient step at 14.1 ms, the next at 9.3), so everything above is measured in
``--rounds`` rounds (default 3), one after the other, and each ratio is the median of the
rounds' own ratios: a floor is only ever compared with the training run measured beside
it. Each round prints its own JSON on stderr.

The last line is a JSON object per the benchmark convention (``ours``: PPO's fraction of
its floor with the fastest backend; ``ratio``: PPO rlkit / SB3; both medians over the
rounds), with everything else in extra keys: per algorithm the medians, each round's
figures (``rounds``) and the profile of the median round (``in_run``); the env and network
figures are the median PPO round's. ``--quick`` measures fewer steps, in one round.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV_ID = "PongNoFrameskip-v4"


def env_sps(backend: str, n_envs: int, steps: int) -> float:
    """Random-action steps per second (env steps, all envs counted) of a backend."""
    from rlkit.envs import make_backend_vector_env, make_env

    env = make_backend_vector_env(
        ENV_ID, {}, lambda **kw: make_env(ENV_ID, **kw), n_envs, backend, train=True
    )
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):  # warm-up
        env.step(rng.integers(6, size=n_envs))
    start = time.perf_counter()
    for _ in range(steps):
        env.step(rng.integers(6, size=n_envs))
    elapsed = time.perf_counter() - start
    env.close()
    return steps * n_envs / elapsed


def timed(fn, repeats: int) -> float:
    """Seconds per call of ``fn`` (median of a few batches of calls)."""
    fn()
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        samples.append((time.perf_counter() - start) / repeats)
    return float(np.median(samples))


def network_costs(repeats: int) -> dict[str, dict[str, float]]:
    """Seconds of acting and learning steps of the Nature CNN in each computation mode."""
    obs8 = torch.randint(0, 255, (8, 4, 84, 84), dtype=torch.uint8)
    obs256 = torch.randint(0, 255, (256, 4, 84, 84), dtype=torch.uint8)
    obs32 = torch.randint(0, 255, (32, 4, 84, 84), dtype=torch.uint8)
    costs = {
        mode: mode_costs(mode, repeats, obs8, obs256, obs32)
        for mode in ("float32", "bf16", "channels_last")
    }
    costs["rlkit"] = rlkit_costs(repeats, obs8, obs256, obs32)
    return costs


def rlkit_costs(
    repeats: int, obs8: torch.Tensor, obs256: torch.Tensor, obs32: torch.Tensor
) -> dict[str, float]:
    """The same steps through rlkit's own path on the config files: PPO's network in the
    config's precision (``auto``: a bf16 encoder where bf16 is native) and memory format,
    ``ppo_loss`` and rlkit's Adam; DQN's Q-network in the config's memory format, under
    bf16 autocast where the config's precision says so, with ``dqn_loss`` and rlkit's
    fused Adam (acting in float32, as the agent acts on one observation on the CPU). PPO's
    minibatch frames come channels-last when its network is, as its rollout buffer hands
    them over (``RolloutBuffer(channels_last=...)``), and it acts with autocast's weight
    casts kept (``rlkit.data.device.casts_kept``), as a rollout does."""
    from types import SimpleNamespace

    from rlkit.agents import dqn, ppo
    from rlkit.config import load_config
    from rlkit.data.device import casts_kept, use_bf16
    from rlkit.losses import ppo_loss
    from rlkit.nn.passes import AutogradPolicy
    from rlkit.optim import optimizer_from_config

    ppo_config, _ = load_config(ppo.Config, ROOT / "configs" / "ppo" / f"{ENV_ID}.yaml")
    dqn_config, _ = load_config(dqn.Config, ROOT / "configs" / "dqn" / f"{ENV_ID}.yaml")
    env = SimpleNamespace(
        observation_space=SimpleNamespace(shape=(4, 84, 84)),
        action_space=__import__("gymnasium").spaces.Discrete(6),
    )
    net = ppo.make_network(env, ppo_config, torch.Generator().manual_seed(0))
    model = AutogradPolicy(net)
    adam = optimizer_from_config(ppo_config, model.parameters(), lr=2.5e-4)
    g = torch.Generator().manual_seed(0)
    batch = SimpleNamespace(
        obs=obs256.contiguous(memory_format=torch.channels_last)
        if ppo_config.channels_last
        else obs256,
        actions=torch.randint(0, 6, (256,), generator=g),
        log_probs=torch.full((256,), -1.79),
        values=torch.zeros(256),
        advantages=torch.randn(256, generator=g),
        returns=torch.randn(256, generator=g),
    )

    @torch.no_grad()
    def act() -> None:
        net(obs8)

    def rollout_of_acts() -> None:
        with casts_kept("cpu"):  # a rollout's n_steps calls: the weights cast at the first
            for _ in range(ppo_config.n_steps):
                act()

    def ppo_update() -> None:
        loss = ppo_loss(model(batch.obs, batch.actions), batch, 0.1, ppo_config)
        model.backward(loss)
        adam.step()

    qnet = dqn.QNetwork((4, 84, 84), 6, dqn_config, torch.Generator().manual_seed(0))
    target = dqn.QNetwork((4, 84, 84), 6, dqn_config, torch.Generator().manual_seed(1))
    if dqn_config.channels_last:  # as dqn.make_networks lays them out
        qnet, target = (n.to(memory_format=torch.channels_last) for n in (qnet, target))
    qmodel = dqn.q_model(qnet, dqn_config)
    qadam = optimizer_from_config(dqn_config, qmodel.parameters(), lr=1e-4)
    bf16 = use_bf16(dqn_config.precision, "cpu")  # as the DQN agent decides it for CNNs
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    actions = torch.randint(0, 6, (32,), generator=g)

    @torch.no_grad()
    def dqn_act() -> None:
        qnet(obs8[:1])

    def dqn_step() -> None:
        with autocast:
            with torch.no_grad():
                y = target(obs32).max(dim=1).values.float()
            loss = dqn.dqn_loss(qmodel(obs32, actions), y, None)
            qmodel.backward(loss)
        qadam.step()

    return {
        "ppo_act_8": timed(rollout_of_acts, 1) / ppo_config.n_steps,
        "ppo_update_per_sample": timed(ppo_update, max(4, repeats // 4)) / 256,
        "dqn_act_1": timed(dqn_act, repeats),
        "dqn_step_32": timed(dqn_step, repeats),
    }


def mode_costs(
    mode: str, repeats: int, obs8: torch.Tensor, obs256: torch.Tensor, obs32: torch.Tensor
) -> dict[str, float]:
    """``network_costs`` in one computation mode (``channels_last``: the modules and the
    frames)."""
    from rlkit.agents import dqn
    from rlkit.nn.actor_critic import ActorCritic

    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16")
    net = ActorCritic((4, 84, 84), n_actions=6, generator=torch.Generator().manual_seed(0))
    qnet = dqn.QNetwork((4, 84, 84), 6, dqn.Config(), torch.Generator().manual_seed(0))
    target = dqn.QNetwork((4, 84, 84), 6, dqn.Config(), torch.Generator().manual_seed(1))
    if mode == "channels_last":
        net, qnet, target = (m.to(memory_format=torch.channels_last) for m in (net, qnet, target))
        obs8, obs256, obs32 = (
            o.contiguous(memory_format=torch.channels_last) for o in (obs8, obs256, obs32)
        )
    adam = torch.optim.Adam(net.parameters(), lr=2.5e-4)
    qadam = torch.optim.Adam(qnet.parameters(), lr=1e-4)
    actions = torch.randint(0, 6, (256,))

    @torch.no_grad()
    def act() -> None:
        with autocast:
            net(obs8)

    def ppo_update() -> None:
        with autocast:
            dist, values = net(obs256)
            loss = -dist.log_prob(actions).mean() + values.square().mean()
        adam.zero_grad()
        loss.backward()
        adam.step()

    @torch.no_grad()
    def dqn_act() -> None:
        with autocast:
            qnet(obs8[:1])

    def dqn_step() -> None:
        with autocast:
            with torch.no_grad():
                y = target(obs32).max(dim=1).values.float()
            q = qnet(obs32).gather(1, actions[:32, None]).squeeze(1).float()
            loss = torch.nn.functional.smooth_l1_loss(q, y)
        qadam.zero_grad()
        loss.backward()
        qadam.step()

    return {
        "ppo_act_8": timed(act, repeats),
        "ppo_update_per_sample": timed(ppo_update, max(4, repeats // 4)) / 256,
        "dqn_act_1": timed(dqn_act, repeats),
        "dqn_step_32": timed(dqn_step, repeats),
    }


FLOOR_PHASES = {"ppo": ("env", "act", "update"), "dqn": ("env", "act", "update", "target")}
"""The phases of a run's profile (``rlkit.timing``) that are the compute a run cannot
avoid: stepping the emulators, acting, and the update (DQN: and its target pass). The
rest (storing, replay sampling, GAE, the target copy, logging, the loop's own Python) is
overhead."""


def in_run(profile: dict, algo: str) -> dict:
    """A run's profile as shares of its wall time, and the share of its floor phases
    (``rlkit / floor`` measured inside the run)."""
    wall = profile["wall_s"]
    phases = {name: round(p["s"] / wall, 3) for name, p in profile["phases"].items()}
    phases["other"] = round(profile["other_s"] / wall, 3)
    floor = sum(profile["phases"].get(name, {"s": 0.0})["s"] for name in FLOOR_PHASES[algo])
    return {"wall_s": round(wall, 1), "shares": phases, "floor_share": round(floor / wall, 3)}


def rlkit_sps(algo: str, backend: str, steps: int, profiles: dict | None = None) -> float:
    """rlkit's training steps/s on the config file (training phase; DQN after learning starts).
    With ``profiles``, the run is profiled (``RLKIT_PROFILE``) and its ``in_run`` summary
    kept there under ``algo``."""
    config = str(ROOT / "configs" / algo / f"{ENV_ID}.yaml")
    if algo == "ppo":
        extra = [f"total_steps={1024 * (steps // 1024 + 1)}", "log_interval=1024"]
        warm = 1024
    else:
        extra = [
            f"total_steps={2500 + steps}",
            "learning_starts=2000",
            "buffer_size=50000",
            "log_interval=500",
        ]
        warm = 2500
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "r"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "rlkit.cli.main",
                "train",
                algo,
                ENV_ID,
                "--config",
                config,
                "--run-dir",
                str(run),
                "--wandb",
                "disabled",
                "--quiet",
                f"vec_env={backend}",
                "eval_interval=0",
                "eval_episodes=1",
                "checkpoint_interval=0",
                "env_kwargs.max_num_frames_per_episode=20000",
                *extra,
            ],
            check=True,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "RLKIT_PROFILE": "1" if profiles is not None else "0",
            },
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        if profiles is not None:
            profiles[algo] = in_run(json.loads((run / "profile.json").read_text()), algo)
    times = {r["step"]: r["time"] for r in rows if "time/sps" in r}
    first = min(s for s in times if s >= warm)
    last = max(times)
    return (last - first) / (times[last] - times[first])


def sb3_sps(algo: str, steps: int) -> float:
    """SB3's steps/s on the same config (its DummyVecEnv of the Python pipeline)."""
    if algo == "ppo":
        from benchmarks.ppo_speed import SB3_PONG as script
    else:
        from benchmarks.dqn_speed import SB3_TRAINING as script
    config = str(ROOT / "configs" / algo / f"{ENV_ID}.yaml")
    if algo == "ppo":
        extra = [
            f"total_steps={1024 * (steps // 1024 + 1)}",
            "eval_interval=0",
            "eval_episodes=1",
            "checkpoint_interval=0",
        ]
    else:
        extra = [
            f"total_steps={2500 + steps}",
            "learning_starts=2000",
            "buffer_size=50000",
            "eval_interval=0",
            "eval_episodes=1",
            "checkpoint_interval=0",
        ]
    # dqn_speed's script takes the env id first and its warm-up steps after the device
    lead, warmup = ([], []) if algo == "ppo" else ([ENV_ID], ["500"])
    out = subprocess.run(
        [sys.executable, "-c", script, *lead, config, "cpu", *warmup, *extra]
        + ["precision=float32"],
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def measure_round(
    ppo, env_steps: int, repeats: int, train_steps: int, with_sync: bool
) -> dict[str, Any]:
    """One round: env-only steps/s of every backend, the network's costs, the floors they
    imply, rlkit's training steps/s (``ale``, profiled; ``sync`` too with ``with_sync``)
    and SB3's, one after the other on the same machine within a few minutes."""
    envs = {b: env_sps(b, 8, env_steps) for b in ("sync", "async", "ale")}
    envs_dqn = {b: env_sps(b, 1, env_steps * 4) for b in ("sync", "ale")}
    print(f"env-only steps/s, 8 envs: {envs}; 1 env: {envs_dqn}", file=sys.stderr)
    costs = network_costs(repeats)
    best = {k: min(costs[m][k] for m in costs) for k in costs["float32"]}
    best_mode = {k: min(costs, key=lambda m, k=k: costs[m][k]) for k in costs["float32"]}
    print(f"network seconds: {costs}", file=sys.stderr)
    floor_s = {
        "ppo": 1 / max(envs.values())
        + best["ppo_act_8"] / ppo.n_envs
        + ppo.n_epochs * best["ppo_update_per_sample"],
        "dqn": 1 / max(envs_dqn.values()) + best["dqn_act_1"] + best["dqn_step_32"] / 4,
    }
    profiles: dict = {}  # the ale runs are profiled (a few perf_counter calls a step)
    backends = ("sync", "ale") if with_sync else ("ale",)
    steps = {"ppo": train_steps, "dqn": train_steps // 4}
    ours = {
        algo: {
            b: rlkit_sps(algo, b, steps[algo], profiles if b == "ale" else None) for b in backends
        }
        for algo in ("ppo", "dqn")
    }
    print(f"in-run profiles (ale): {json.dumps(profiles)}", file=sys.stderr)
    peer = {algo: sb3_sps(algo, steps[algo]) for algo in ("ppo", "dqn")}
    result: dict[str, Any] = {
        "env_sps_8": {k: round(v) for k, v in envs.items()},
        "env_sps_1": {k: round(v) for k, v in envs_dqn.items()},
        "network_s": {k: f"{v:.3g} ({best_mode[k]})" for k, v in best.items()},
    }
    for algo in ("ppo", "dqn"):
        fast = max(ours[algo].values())
        result[algo] = {
            "floor_sps": round(1 / floor_s[algo]),
            "rlkit_sps": {k: round(v) for k, v in ours[algo].items()},
            "sb3_sps": round(peer[algo]),
            "rlkit_over_floor": round(fast * floor_s[algo], 3),
            "rlkit_over_sb3": round(fast / peer[algo], 3),
            "in_run": profiles[algo],
        }
    print(f"round: {json.dumps(result)}", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of every measurement, one after the other; the ratios reported are "
        "the medians of the rounds' own ratios (default 3; --quick: 1)",
    )
    args = parser.parse_args()
    env_steps, repeats, train_steps = (100, 10, 2048) if args.quick else (1000, 40, 8192)
    rounds = 1 if args.quick else max(1, args.rounds)
    from rlkit.agents.ppo import Config as PPOConfig
    from rlkit.config import load_config

    ppo, _ = load_config(PPOConfig, ROOT / "configs" / "ppo" / f"{ENV_ID}.yaml")
    measured = [
        measure_round(ppo, env_steps, repeats, train_steps, with_sync=r == 0) for r in range(rounds)
    ]
    middle = sorted(measured, key=lambda m: m["ppo"]["rlkit_over_floor"])[len(measured) // 2]

    def median(algo: str, key: str) -> float:
        return float(np.median([m[algo][key] for m in measured]))

    result: dict[str, Any] = {
        "bench": "atari_speed",
        "work": f"PPO and DQN {ENV_ID}, config files, {os.cpu_count()} cores, cpu, "
        f"median of {rounds} rounds",
        "ours": round(median("ppo", "rlkit_over_floor"), 3),
        "peer": None,
        "unit": "PPO training steps/s as a fraction of its floor (fastest backend)",
        "ratio": round(median("ppo", "rlkit_over_sb3"), 3),
        **{k: middle[k] for k in ("env_sps_8", "env_sps_1", "network_s")},
    }
    for algo in ("ppo", "dqn"):
        result[algo] = {
            "floor_sps": round(median(algo, "floor_sps")),
            "rlkit_sps": {
                "ale": round(float(np.median([m[algo]["rlkit_sps"]["ale"] for m in measured])))
            }
            | {k: v for k, v in measured[0][algo]["rlkit_sps"].items() if k != "ale"},
            "sb3_sps": round(median(algo, "sb3_sps")),
            "rlkit_over_floor": round(median(algo, "rlkit_over_floor"), 3),
            "rlkit_over_sb3": round(median(algo, "rlkit_over_sb3"), 3),
            "floor_share": round(
                float(np.median([m[algo]["in_run"]["floor_share"] for m in measured])), 3
            ),
            "rounds": [
                {k: m[algo][k] for k in ("floor_sps", "rlkit_over_floor", "rlkit_over_sb3")}
                | {"rlkit_sps": m[algo]["rlkit_sps"]["ale"], "sb3_sps": m[algo]["sb3_sps"]}
                for m in measured
            ],
            "in_run": sorted(measured, key=lambda m, a=algo: m[a]["rlkit_over_floor"])[
                len(measured) // 2
            ][algo]["in_run"],  # the profile of the round with the median ratio
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
