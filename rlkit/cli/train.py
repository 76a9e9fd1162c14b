"""``rlkit train <algo> <env-id> [options] [key=value ...]``."""

from __future__ import annotations

import argparse
import errno
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from agents import ALGORITHMS
from rlkit.cli.common import (
    DEVICES,
    default_config_path,
    env_factory,
    fail,
    load_agent,
    resolve_device,
)
from rlkit.config import config_dict, describe_fields, load_config, package_versions
from rlkit.errors import BadInput, Stopped
from rlkit.guard import NonFinite
from rlkit.logging import WANDB_MODES, Logger
from rlkit.rundir import Run, RunDir, default_run_dir, safe_name
from rlkit.seeding import make_rngs


def algorithms_help() -> str:
    """One line per algorithm: its name and the envs it fits."""
    lines = ["algorithms (and the envs they fit):"]
    for name in ALGORITHMS:
        lines.append(f"  {name:<18} {load_agent(name).FITS}")
    lines.append("")
    lines.append("fields of an algorithm's config: rlkit train <algo> --help-config")
    return "\n".join(lines)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``train``."""
    p = sub.add_parser(
        "train",
        help="train an agent (writes a run directory)",
        description="Train <algo> on <env-id>; key=value overrides any config field.",
        epilog=algorithms_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(p, tuple(ALGORITHMS))
    p.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue an interrupted run from its last checkpoint (algo, env and config from the run dir)",
    )
    p.set_defaults(func=main)


def add_common_arguments(p: argparse.ArgumentParser, algos: tuple[str, ...]) -> None:
    """The arguments ``train`` and ``baseline`` share."""
    p.add_argument("algo", nargs="?", help="algorithm: " + ", ".join(algos))
    p.add_argument("env_id", nargs="?", help="a registered Gymnasium id, e.g. CartPole-v1")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override config fields")
    p.add_argument(
        "--config", type=Path, help="YAML config (default: configs/<algo>/<env-id>.yaml)"
    )
    p.add_argument("--seed", type=int, default=None, help="run seed (default 0)")
    p.add_argument(
        "--seeds",
        default=None,
        metavar="SPEC",
        help="several seeds in parallel processes, one run dir each under a common parent: 0-9 or 0,3,7",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="with --seeds: processes at once (default: the core count)",
    )
    p.add_argument(
        "--run-dir",
        type=Path,
        help="run directory (default runs/<algo>-<env>-s<seed>-<time>; with --seeds, the parent)",
    )
    p.add_argument(
        "--device", default="auto", choices=DEVICES, help="where tensors live (default auto)"
    )
    p.add_argument(
        "--wandb", default="offline", choices=WANDB_MODES, help="W&B mode (default offline)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument(
        "--help-config", action="store_true", help="list the algorithm's config fields and exit"
    )


def print_config_help(agent: Any) -> None:
    """The config fields of an agent with their types, defaults and docs."""
    print(f"{agent.ALGO} config fields (set in a YAML file or as key=value):")
    for name, type_name, default, doc in describe_fields(agent.Config):
        print(f"  {name} ({type_name}, default {default!r}): {doc}")


def main(args: argparse.Namespace) -> int:
    """Validate everything, then create the run dir, train and write summary.json."""
    return run_command(args, implementation="rlkit")


def run_command(args: argparse.Namespace, implementation: str) -> int:
    """``train`` (``implementation="rlkit"``) or ``baseline`` (``"sb3"``): one seed, or
    ``--seeds`` in parallel processes."""
    if getattr(args, "resume", None) is not None:
        try:
            prepared = prepare_resume(args)
        except BadInput as e:
            return fail(str(e), 2)
        return execute(*prepared[:-1], quiet=args.quiet, resume=prepared[-1])
    if args.algo is None:
        return fail(f"rlkit {'train' if implementation == 'rlkit' else 'baseline'} needs an algorithm: "
                    + ", ".join(ALGORITHMS), 2)  # fmt: skip
    if args.seeds is not None:
        from rlkit.cli.seeds import run_seeds

        return run_seeds(args, implementation)
    try:
        prepared = prepare(args, implementation)
    except BadInput as e:
        return fail(str(e), 2)
    except PermissionError as e:
        return fail(str(e), 1)
    if prepared is None:
        return 0
    return execute(*prepared, quiet=args.quiet, implementation=implementation)


RESUMABLE = ("q-learning", "dqn", "reinforce", "a2c", "ppo", "recurrent-ppo")
"""Algorithms whose checkpoints carry everything to continue exactly."""


def prepare_resume(args: argparse.Namespace):
    """The checks of ``--resume``; returns ``execute``'s arguments and the checkpoint."""
    from rlkit import snapshot
    from rlkit.checkpoint import load_run_checkpoint

    if (
        args.algo is not None
        or args.env_id is not None
        or args.overrides
        or args.config is not None
    ):
        raise BadInput(
            "--resume takes the algo, env and config from the run dir; give only --resume RUN_DIR"
        )
    if args.seed is not None or args.seeds is not None or args.run_dir is not None:
        raise BadInput(
            "--resume continues the run dir's own seed; --seed, --seeds and --run-dir do not apply"
        )
    run_dir = RunDir(args.resume)
    if not run_dir.path.is_dir():
        raise BadInput(f"no such run dir: {run_dir.path}")
    saved = run_dir.read_config()
    if saved.get("implementation", "rlkit") != "rlkit":
        raise BadInput(
            f"{run_dir.path} is an rlkit baseline run; resuming SB3 runs is not supported"
        )
    if run_dir.summary.is_file():
        raise BadInput(f"{run_dir.path} already finished (it has summary.json); nothing to resume")
    algo = str(saved.get("algo"))
    agent = load_agent(algo)
    if algo not in RESUMABLE:
        raise BadInput(
            f"--resume supports {', '.join(RESUMABLE)}; a {algo} run starts over quickly instead"
        )
    if not any((run_dir.checkpoints / name).is_file() for name in ("latest.pt", "previous.pt")):
        # stopped before its first checkpoint: the same seed and config replay it from the start
        print(
            f"rlkit: {run_dir.path} has no checkpoint yet; starting it again from step 0",
            file=sys.stderr,
        )
        config, _ = load_config(agent.Config, run_dir.config, [])
        env_id = str(saved["env_id"])
        make = env_factory(
            env_id, getattr(config, "env_kwargs", {}), frame_stack=getattr(config, "frame_stack", 4)
        )
        return (agent, config, env_id, int(saved.get("seed", 0)), resolve_device(args.device), run_dir, saved, make,
                args.wandb, {"restart": True})  # fmt: skip
    checkpoint, _path = load_run_checkpoint(run_dir.checkpoints)
    if checkpoint.get("algo") != algo or "resume" not in checkpoint:
        raise BadInput(f"{run_dir.latest} is not a resumable {algo} checkpoint of this run")
    if algo == "dqn" and "replay" not in checkpoint:
        raise BadInput(f"{run_dir.latest} was saved without its replay buffer (save_replay: false, image "
                       "observations); the run cannot continue exactly")  # fmt: skip
    config, run_keys = load_config(agent.Config, run_dir.config, [])
    if getattr(config, "vec_env", "sync") == "async":
        raise BadInput("--resume needs vec_env=sync: async envs keep their state in worker processes "
                       "that a checkpoint does not capture")  # fmt: skip
    env_id = str(saved["env_id"])
    seed = int(saved.get("seed", 0))
    device = resolve_device(args.device)
    make = env_factory(
        env_id, getattr(config, "env_kwargs", {}), frame_stack=getattr(config, "frame_stack", 4)
    )
    probe = make()
    try:
        opaque = snapshot.opaque_parts(probe)
    finally:
        probe.close()
    if opaque:
        raise BadInput(f"--resume of {env_id} is not supported yet: {', '.join(opaque)} keeps its state in "
                       "native code that a checkpoint does not capture")  # fmt: skip
    return agent, config, env_id, seed, device, run_dir, saved, make, args.wandb, checkpoint


def prepare(args: argparse.Namespace, implementation: str = "rlkit"):
    """Every check that can fail on bad input, before anything is written."""
    agent = load_agent(args.algo)
    if args.help_config:
        print_config_help(agent)
        return None
    if args.env_id is None:
        raise BadInput(
            f"rlkit train {args.algo} needs an env id, e.g. {agent.FITS.split(': ')[-1].split(',')[0]}"
        )
    if "=" in args.env_id:
        raise BadInput(f"expected an env id before the overrides, got {args.env_id!r}")
    from envs import check_env_id

    env_id = check_env_id(args.env_id)
    safe_name(env_id)
    config_path = args.config if args.config is not None else default_config_path(args.algo, env_id)
    config, run_keys = load_config(agent.Config, config_path, args.overrides)
    for key in ("algo", "env_id"):
        wanted = args.algo if key == "algo" else env_id
        if key in run_keys and run_keys[key] != wanted:
            raise BadInput(f"config {config_path} is for {key}={run_keys[key]!r}, not {wanted!r}")
    seed = args.seed if args.seed is not None else int(run_keys.get("seed", 0))
    if seed < 0:
        raise BadInput(f"bad value --seed {seed}; allowed: an integer >= 0")
    device = resolve_device(args.device)
    make = env_factory(
        env_id, getattr(config, "env_kwargs", {}), frame_stack=getattr(config, "frame_stack", 4)
    )
    env = make()
    try:
        agent.check_env(env, config)
        if implementation == "sb3":
            from rlkit.cli import baseline

            baseline.sb3_kwargs(args.algo, config, image=len(env.observation_space.shape) == 3)
            notes = baseline.speed_notes(args.algo, config)
            if notes:
                print(f"rlkit baseline: {', '.join(notes)} only change how rlkit computes; SB3 runs its own way",
                      file=sys.stderr)  # fmt: skip
    finally:
        env.close()
    label = args.algo if implementation == "rlkit" else f"sb3-{args.algo}"
    run_dir = RunDir(
        args.run_dir if args.run_dir is not None else default_run_dir(label, env_id, seed)
    )
    run_dir.check_new()
    resolved = {
        "algo": args.algo,
        "env_id": env_id,
        "seed": seed,
        "device": str(device),
        "implementation": implementation,
        **config_dict(config),
        "versions": package_versions(),
    }
    return agent, config, env_id, seed, device, run_dir, resolved, make, args.wandb


def _stop_on_signals(run: Run):
    """SIGINT / SIGTERM ask ``run`` to stop after its current step (with a checkpoint); a
    second SIGINT stops at once. Returns the function that puts the old handlers back."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, _frame: object) -> None:
        if run.stop.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        run.stop.signum = signum
        print(f"\n{signal.Signals(signum).name}: stopping after this step and saving a checkpoint "
              "(Ctrl-C again to stop at once)", file=sys.stderr)  # fmt: skip

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return restore


def execute(
    agent,
    config,
    env_id,
    seed,
    device,
    run_dir,
    resolved,
    make,
    wandb_mode,
    quiet=False,
    implementation="rlkit",
    resume=None,
    group=None,
    tags=(),
    listeners=(),
    reraise=(),
) -> int:
    """Create the run dir, train, write summary.json; exit code 0, 1 or 130.

    A sweep's trial passes its W&B ``group`` (the study name) and extra ``tags``, Logger
    ``listeners`` (the pruner) and the exceptions to ``reraise`` (``optuna.TrialPruned``)
    instead of reporting them as a failed run.
    """
    created = not run_dir.path.exists()
    try:
        if resume is None:
            run_dir.create()
            run_dir.write_config(resolved)
    except OSError as e:  # a full disk, a read-only file system: leave nothing half-made behind
        if created:
            shutil.rmtree(run_dir.path, ignore_errors=True)
        return fail(f"cannot write the run dir {run_dir.path}: {e.strerror or e}", 1)
    start = time.perf_counter()
    logger = restore = None
    try:
        logger = Logger(
            run_dir.path,
            total_steps=getattr(config, "total_steps", 0),
            config=resolved,
            wandb_mode=wandb_mode,
            group=group or f"{agent.ALGO}-{safe_name(env_id)}",
            tags=[agent.ALGO, env_id, implementation, *tags],
            console=None if quiet else sys.stderr,
            start_step=0 if resume is None else int(resume.get("step", 0)),
            resume_rows=None
            if resume is None
            else int(resume.get("resume", {}).get("log_rows", 0)),
            listeners=listeners,
        )
        run = Run(
            algo=agent.ALGO,
            env_id=env_id,
            seed=seed,
            device=device,
            dir=run_dir,
            logger=logger,
            rngs=make_rngs(seed),
            make_env=make,
            resolved_config=resolved,
            resume=None if resume is None or "restart" in resume else resume,
        )
        if run.resume is not None:
            print(f"resuming {run_dir.path} from step {int(resume['step']):,}", file=sys.stderr)
        restore = _stop_on_signals(run)
        if implementation == "sb3":
            from rlkit.cli import baseline

            result = baseline.train(agent.ALGO, config, run)
        else:
            result = agent.train(config, run)
        wall = time.perf_counter() - start
        summary = {
            "algo": agent.ALGO,
            "implementation": implementation,
            "env_id": env_id,
            "seed": seed,
            "total_steps": result.pop("total_steps"),
            "wall_time_s": wall,
            **result,
        }
        summary.setdefault("time/sps", summary["total_steps"] / max(wall, 1e-9))
        logger.summary(summary)
        logger.close(step=summary["total_steps"])
        logger = None
        run_dir.write_summary(summary)
    except Stopped as e:
        name = signal.Signals(e.signum).name
        print(
            f"\nstopped by {name} at step {e.step:,}; checkpoint saved: {run_dir.latest}"
            + (
                f"; continue with: rlkit train --resume {run_dir.path}"
                if agent.ALGO in RESUMABLE and implementation == "rlkit"
                else ""
            ),
            file=sys.stderr,
        )
        return 128 + e.signum
    except reraise:
        raise
    except KeyboardInterrupt:
        print(f"\ninterrupted; the run so far is in {run_dir.path}", file=sys.stderr)
        return 130
    except BadInput as e:
        if created:
            shutil.rmtree(run_dir.path, ignore_errors=True)
        return fail(str(e), 2)
    except NonFinite as e:
        return fail(f"{e} (run dir kept: {run_dir.path})", 1)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            return fail(f"{type(e).__name__}: {e} (run dir kept: {run_dir.path})", 1)
        return fail(f"{e.strerror} writing {e.filename or run_dir.path}; the checkpoints written before "
                    f"are intact (run dir kept: {run_dir.path})", 1)  # fmt: skip
    except Exception as e:  # noqa: BLE001 - reported as one line, exit 1
        return fail(f"{type(e).__name__}: {e} (run dir kept: {run_dir.path})", 1)
    finally:
        if restore is not None:
            restore()
        if logger is not None:
            logger.close()
    line = ", ".join(
        f"{k} {summary[k]:.6g}"
        for k in ("eval/mean_return", "eval/std_return", "v_start")
        if k in summary
    )
    print(f"done in {wall:.1f}s: {line}\nrun dir: {run_dir.path}")
    return 0
