"""DQN speed, ours vs SB3 on the same config: CartPole whole processes, Pong training sps.

* ``cartpole``: ``rlkit train dqn CartPole-v1`` (zoo config, 50k steps, its periodic
  evaluations included) and SB3's DQN on the same config with the same evaluation
  schedule, each timed as a whole process (start-up, imports and compilation
  included: what the user waits for). Rounds alternate ours / SB3; medians count.
* ``pong``: training-phase steps per second on PongNoFrameskip-v4 with the Nature
  config (batch 32, train_freq 4) and a 50k buffer: each side fills ``learning_starts``
  steps, learns for ``WARMUP`` more (one-time compilation happens there), then the time
  for the next ``--pong-steps`` steps (acting + learning) is taken.
* ``minatar``: the same training-phase steps per second on MinAtar/Breakout-v1 with
  Young & Tian's preset (``configs/dqn/MinAtar-Breakout-v1.yaml``: MinAtar's network, a
  batch-32 update at every step, centered RMSprop), one thread a side as the MinAtar
  records run; SB3's side is what ``rlkit baseline`` builds (MinAtar's network as its
  features extractor). ``--minatar-rounds`` alternating rounds, medians count.

The last line is the JSON result for the CartPole whole-process time (``ratio`` = SB3
time / ours); the Pong figures (and with ``--minatar`` MinAtar's, ``minatar_*``) ride
along in extra keys. With ``--skip-cartpole --minatar`` MinAtar's steps/s are the
headline (``ratio`` = ours / SB3, the median of the rounds' own ratios):

    python benchmarks/dqn_speed.py --skip-cartpole --skip-pong --minatar

``--device cuda`` times both on a GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(ROOT))
from benchmarks._records import child_env, rlkit  # noqa: E402

WARMUP = 500
NO_EXTRAS = ["eval_interval=0", "eval_episodes=1", "checkpoint_interval=0", "log_interval=500"]
"""Overrides of the training-phase timings: no evaluation or checkpoint in the window."""

SB3_CARTPOLE = """
import sys, time
from rlkit.agents.dqn import Config
from rlkit.config import load_config
from benchmarks._sb3 import sb3_dqn_kwargs
from rlkit.envs import make_env
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import EvalCallback
config, _ = load_config(Config, sys.argv[1], sys.argv[3:])
env = make_env("CartPole-v1", train=True)
model = DQN("MlpPolicy", env, seed=0, verbose=0, device=sys.argv[2], **sb3_dqn_kwargs(config))
callback = EvalCallback(make_env("CartPole-v1"), n_eval_episodes=config.eval_episodes,
                        eval_freq=config.eval_interval, deterministic=True, verbose=0)
model.learn(config.total_steps, callback=callback)
"""

SB3_TRAINING = """
import sys, time, json
from rlkit.agents.dqn import Config
from rlkit.config import load_config
from rlkit import sb3 as baseline
from rlkit.envs import make_env
from stable_baselines3.common.callbacks import BaseCallback
env_id, config_path, device, warmup, *overrides = sys.argv[1:]
config, _ = load_config(Config, config_path, overrides)
START = config.learning_starts + int(warmup)  # after the warm-up
marks = {}
class Clock(BaseCallback):
    def _on_step(self):
        if self.num_timesteps in (START, config.total_steps):
            marks[self.num_timesteps] = time.perf_counter()
        return True
model = baseline.make_model("dqn", config, lambda **kw: make_env(env_id, **kw), 0, device)
model.learn(config.total_steps, callback=Clock())
print(json.dumps((config.total_steps - START) / (marks[config.total_steps] - marks[START])))
"""
"""SB3's training-phase steps/s on an env id and config file: the DQN ``rlkit baseline``
builds (``rlkit.sb3.make_model``), timed from ``learning_starts`` + the warm-up on."""


def time_process(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def cartpole(rounds: int, device: str, overrides: list[str]) -> tuple[float, float]:
    config = str(ROOT / "configs" / "dqn" / "CartPole-v1.yaml")
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
                        "dqn",
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
                    ],
                    child_env(None),
                )
            )
            sb3_s.append(
                time_process(
                    [sys.executable, "-c", SB3_CARTPOLE, config, device, *overrides],
                    child_env(None),
                )
            )
            print(
                f"cartpole round {r}: ours {ours_s[-1]:.1f}s, sb3 {sb3_s[-1]:.1f}s", file=sys.stderr
            )
    return statistics.median(ours_s), statistics.median(sb3_s)


def training_sps(run: Path, first_step: int) -> float:
    """Steps per second between the first logged step at or past ``first_step`` and the
    last, from a run's ``metrics.jsonl``."""
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    times = {r["step"]: r["time"] for r in rows if "time/sps" in r}
    first = min(s for s in times if s >= first_step)
    last = max(times)
    return (last - first) / (times[last] - times[first])


def training_phase(
    env_id: str, overrides: list[str], learning_starts: int, device: str, threads: int | None
) -> tuple[float, float]:
    """Training-phase steps/s of rlkit's DQN and SB3's on ``env_id``'s config file with
    ``overrides``, each timed from ``learning_starts`` + ``WARMUP`` to the end."""
    config = str(ROOT / "configs" / "dqn" / f"{env_id.replace('/', '-')}.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        argv = ["train", "dqn", env_id, "--config", config, "--device", device]
        argv += ["--run-dir", str(run), "--wandb", "disabled", "--quiet", *overrides]
        if rlkit(*argv, threads=threads, quiet=True) != 0:
            raise RuntimeError(f"rlkit train dqn {env_id} failed")
        ours = training_sps(run, learning_starts + WARMUP)
    # SB3 computes in float32 (the baseline mapping refuses precision=bf16)
    out = subprocess.run(
        [sys.executable, "-c", SB3_TRAINING, env_id, config, device, str(WARMUP), *overrides]
        + ["precision=float32"],
        check=True,
        env=child_env(threads),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return ours, float(out.stdout.strip().splitlines()[-1])


def pong(steps: int, device: str) -> tuple[float, float]:
    """Pong's training-phase steps/s, ours and SB3's, on the Nature config with a 50k
    buffer, filled for 2k steps."""
    learning_starts = 2_000
    overrides = [
        f"total_steps={learning_starts + WARMUP + steps}",
        f"learning_starts={learning_starts}",
        "buffer_size=50000",
        *NO_EXTRAS,
    ]
    return training_phase("PongNoFrameskip-v4", overrides, learning_starts, device, None)


def minatar(steps: int, rounds: int, device: str) -> dict[str, list[float]]:
    """Training-phase steps/s of each side on MinAtar Breakout, ``rounds`` alternating
    rounds, one thread each."""
    learning_starts = 5_000  # the preset's
    overrides = [f"total_steps={learning_starts + WARMUP + steps}", *NO_EXTRAS]
    sps: dict[str, list[float]] = {"ours": [], "sb3": []}
    for r in range(rounds):
        ours, sb3 = training_phase("MinAtar/Breakout-v1", overrides, learning_starts, device, 1)
        sps["ours"].append(ours)
        sps["sb3"].append(sb3)
        print(f"minatar round {r}: ours {ours:.1f}, sb3 {sb3:.1f} steps/s", file=sys.stderr)
    return sps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1 round, 10k CartPole steps, short Pong"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pong-steps", type=int, default=2_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-pong", action="store_true")
    parser.add_argument("--skip-cartpole", action="store_true")
    parser.add_argument("--minatar", action="store_true", help="add the MinAtar part")
    parser.add_argument("--minatar-steps", type=int, default=5_000)
    parser.add_argument("--minatar-rounds", type=int, default=5)
    args = parser.parse_args()
    if args.skip_cartpole and not args.minatar:
        parser.error("--skip-cartpole needs --minatar (the headline is then MinAtar's)")
    rounds = 1 if args.quick else args.rounds
    overrides = ["total_steps=10000"] if args.quick else []
    result: dict = {}
    if not args.skip_cartpole:
        ours_cp, sb3_cp = cartpole(rounds, args.device, overrides)
        result = {
            "bench": "dqn_speed",
            "work": f"DQN CartPole-v1 zoo config {'10k' if args.quick else '50k'} steps, whole process, {args.device}",
            "ours": round(ours_cp, 2),
            "peer": round(sb3_cp, 2),
            "unit": "s",
            "ratio": round(sb3_cp / ours_cp, 3),
        }
    if not args.skip_pong:
        ours_sps, sb3_sps = pong(500 if args.quick else args.pong_steps, args.device)
        print(f"pong training sps: ours {ours_sps:.1f}, sb3 {sb3_sps:.1f}", file=sys.stderr)
        result.update(
            {
                "pong_ours_sps": round(ours_sps, 1),
                "pong_peer_sps": round(sb3_sps, 1),
                "pong_ratio": round(ours_sps / sb3_sps, 3),
            }
        )
    if args.minatar:
        minatar_rounds = 1 if args.quick else args.minatar_rounds
        sps = minatar(1_000 if args.quick else args.minatar_steps, minatar_rounds, args.device)
        ours, sb3 = statistics.median(sps["ours"]), statistics.median(sps["sb3"])
        ratios = [o / p for o, p in zip(sps["ours"], sps["sb3"], strict=True)]
        figures = {
            "ours": round(ours, 1),
            "peer": round(sb3, 1),
            "unit": "sps",
            "ratio": round(statistics.median(ratios), 3),
            "rounds": {side: [round(x, 1) for x in xs] for side, xs in sps.items()},
        }
        if not args.skip_cartpole:  # beside the CartPole headline
            result.update({f"minatar_{k}": v for k, v in figures.items()})
        else:  # the headline (Pong's figures, if any, ride along)
            work = (
                "DQN MinAtar/Breakout-v1 Young & Tian preset, training steps/s, one thread, "
                f"{args.device}, median of {minatar_rounds} alternating rounds"
            )
            result = {"bench": "dqn_speed", "work": work, **figures, **result}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
