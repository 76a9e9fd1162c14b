"""PPO speed, ours vs SB3 on the same config: CartPole whole processes, Pong training sps.

* ``cartpole``: ``rlkit train ppo CartPole-v1`` (zoo config, 100k steps, its periodic
  evaluations included) and SB3's PPO on the same config with the same evaluation
  schedule (``EvalCallback``), each timed as a whole process (start-up, imports and
  compilation included: what the user waits for). Rounds alternate ours / SB3; medians count.
* ``pong``: steps per second on PongNoFrameskip-v4 with the CleanRL / rl-zoo Atari
  config (8 envs x 128 steps, 4 epochs of 256-row minibatches): each side runs one
  iteration as a warm-up, then the time for the next ``--pong-iterations`` iterations
  (rollouts + updates) is taken. Ours runs twice, with the config's sync envs and
  with async envs (one process per env), to show what env stepping costs; SB3 uses its
  default ``DummyVecEnv`` (sync).

The last line is the JSON result for the CartPole whole-process time (``ratio`` = SB3
time / ours); the Pong figures ride along in extra keys. ``--device cuda`` times both
on a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SB3_CARTPOLE = """
import sys
from rlkit.agents.ppo import Config
from rlkit.config import load_config
from benchmarks._sb3 import sb3_onpolicy_model
from rlkit.envs import make_env
from stable_baselines3.common.callbacks import EvalCallback
config, _ = load_config(Config, sys.argv[1], sys.argv[3:])
model = sb3_onpolicy_model("ppo", "CartPole-v1", config, seed=0, device=sys.argv[2])
callback = EvalCallback(make_env("CartPole-v1"), n_eval_episodes=config.eval_episodes,
                        eval_freq=config.eval_interval // config.n_envs, deterministic=True, verbose=0)
model.learn(config.total_steps, callback=callback)
"""

SB3_PONG = """
import sys, time, json
from rlkit.agents.ppo import Config
from rlkit.config import load_config
from benchmarks._sb3 import sb3_onpolicy_model
from stable_baselines3.common.callbacks import BaseCallback
config, _ = load_config(Config, sys.argv[1], sys.argv[3:])
per = config.n_steps * config.n_envs
marks = {}
class Clock(BaseCallback):
    def _on_rollout_start(self):
        marks[self.num_timesteps] = time.perf_counter()
    def _on_step(self):
        return True
model = sb3_onpolicy_model("ppo", "PongNoFrameskip-v4", config, seed=0, device=sys.argv[2])
model.learn(config.total_steps, callback=Clock())
marks[model.num_timesteps] = time.perf_counter()
first, last = per, max(marks)
print(json.dumps((last - first) / (marks[last] - marks[first])))
"""


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def time_process(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=child_env(), cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def cartpole(rounds: int, device: str, overrides: list[str]) -> tuple[float, float]:
    config = str(ROOT / "configs" / "ppo" / "CartPole-v1.yaml")
    ours_s, sb3_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            ours_s.append(
                time_process(
                    [
                        sys.executable,
                        "-m",
                        "rlkit.cli.main",
                        "train",
                        "ppo",
                        "CartPole-v1",
                        "--config",
                        config,
                        "--device",
                        device,
                        "--run-dir",
                        f"{tmp}/r{r}",
                        "--wandb",
                        "disabled",
                        "--quiet",
                        *overrides,
                    ]
                )
            )
            sb3_s.append(
                time_process([sys.executable, "-c", SB3_CARTPOLE, config, device, *overrides])
            )
            print(
                f"cartpole round {r}: ours {ours_s[-1]:.1f}s, sb3 {sb3_s[-1]:.1f}s", file=sys.stderr
            )
    return statistics.median(ours_s), statistics.median(sb3_s)


def pong(iterations: int, device: str) -> tuple[float, float, float]:
    """Our sps with the config's sync envs, with async envs, and SB3's (DummyVecEnv)."""
    config = str(ROOT / "configs" / "ppo" / "PongNoFrameskip-v4.yaml")
    per = 8 * 128
    overrides = [
        f"total_steps={per * (iterations + 1)}",
        "eval_interval=0",
        "eval_episodes=1",
        "checkpoint_interval=0",
        f"log_interval={per}",
    ]
    ours_async = ours_pong(config, device, [*overrides, "vec_env=async"])
    ours = ours_pong(config, device, overrides)
    # SB3 computes in float32 (the baseline mapping refuses precision=bf16)
    out = subprocess.run(
        [sys.executable, "-c", SB3_PONG, config, device, *overrides, "precision=float32"],
        check=True,
        env=child_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return ours, ours_async, float(out.stdout.strip().splitlines()[-1])


def ours_pong(config: str, device: str, overrides: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "pong"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "rlkit.cli.main",
                "train",
                "ppo",
                "PongNoFrameskip-v4",
                "--config",
                config,
                "--device",
                device,
                "--run-dir",
                str(run),
                "--wandb",
                "disabled",
                "--quiet",
                *overrides,
            ],
            check=True,
            env=child_env(),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        times = {r["step"]: r["time"] for r in rows if "time/sps" in r}
        first, last = min(times), max(times)
        return (last - first) / (times[last] - times[first])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 round, 20k CartPole steps, 2 Pong iterations"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pong-iterations", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-pong", action="store_true")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    overrides = ["total_steps=20000"] if args.quick else []
    ours_cp, sb3_cp = cartpole(rounds, args.device, overrides)
    result = {
        "bench": "ppo_speed",
        "work": f"PPO CartPole-v1 zoo config {'20k' if args.quick else '100k'} steps, whole process, {args.device}",
        "ours": round(ours_cp, 2),
        "peer": round(sb3_cp, 2),
        "unit": "s",
        "ratio": round(sb3_cp / ours_cp, 3),
    }
    if not args.skip_pong:
        ours_sps, async_sps, sb3_sps = pong(2 if args.quick else args.pong_iterations, args.device)
        print(
            f"pong sps: ours {ours_sps:.1f} (async envs {async_sps:.1f}), sb3 {sb3_sps:.1f}",
            file=sys.stderr,
        )
        result.update(
            {
                "pong_ours_sps": round(ours_sps, 1),
                "pong_ours_async_sps": round(async_sps, 1),
                "pong_peer_sps": round(sb3_sps, 1),
                "pong_ratio": round(ours_sps / sb3_sps, 3),
            }
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
