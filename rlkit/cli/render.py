"""``rlkit render <run-dir|checkpoint> --out FILE.mp4 [--episodes N] [--human]``.

Headless by default: the env renders ``rgb_array`` frames and gymnasium's ``RecordVideo``
writes one mp4 per episode; several episodes are joined into ``--out`` frame for frame.
``--human`` opens a window instead (where a display exists) and writes nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch

from rlkit.cli.common import fail, report
from rlkit.errors import BadInput
from rlkit.evaluation import evaluate, join_videos, record_video
from rlkit.launch import DEVICES, load_run
from rlkit.seeding import make_rngs


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``render``."""
    p = sub.add_parser(
        "render",
        help="play a trained policy to an mp4 (or a window with --human)",
        description="Play N episodes of a run's policy (deterministic unless --stochastic) and "
        "write them to one mp4 through gymnasium's RecordVideo.",
    )
    p.add_argument("target", type=Path, help="a run directory or a .pt checkpoint")
    p.add_argument(
        "--out", type=Path, default=None, help="the mp4 to write (required unless --human)"
    )
    p.add_argument("--episodes", type=int, default=1, help="episodes (default 1)")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the run's)")
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: the env's)")
    p.add_argument("--best", action="store_true", help="use checkpoints/best.pt of a run dir")
    p.add_argument("--stochastic", action="store_true", help="sample actions")
    p.add_argument("--human", action="store_true", help="show a window instead of writing a file")
    p.add_argument("--device", default="auto", choices=DEVICES, help="where the policy runs")
    p.set_defaults(func=main)


def _check_out(out: Path | None, human: bool) -> None:
    if human:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.name == "nt"):
            raise BadInput(
                "--human needs a display (DISPLAY is not set); write a file with --out FILE.mp4"
            )
        return
    if out is None:
        raise BadInput("rlkit render needs --out FILE.mp4 (or --human for a window)")
    if out.suffix.lower() != ".mp4":
        raise BadInput(f"--out must name an .mp4 file, got {out}")
    if out.exists() and out.is_dir():
        raise BadInput(f"--out {out} is a directory")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise BadInput(f"--out {out}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"--out {out}: folder {folder} is not writable")


def main(args: argparse.Namespace) -> int:
    """Render and report what was written."""
    try:
        if args.episodes < 1:
            raise BadInput(f"bad value --episodes {args.episodes}; allowed: an integer >= 1")
        if args.fps is not None and args.fps < 1:
            raise BadInput(f"bad value --fps {args.fps}; allowed: an integer >= 1")
        _check_out(args.out, args.human)
        loaded = load_run(args.target, args.best, args.seed, args.device, args.stochastic)
    except (BadInput, PermissionError) as e:
        return report(e)
    eval_seed = make_rngs(loaded.seed, seed_globals=False).eval_seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(eval_seed)
        if args.human:
            result = evaluate(
                loaded.policy,
                lambda: loaded.make(render_mode="human"),
                args.episodes,
                seed=eval_seed,
            )
            print(f"{args.episodes} episodes: mean return {result.mean:.4g} +- {result.std:.4g}")
            return 0
        with tempfile.TemporaryDirectory(prefix="rlkit-render-") as folder:
            try:
                result, parts = record_video(
                    loaded.policy,
                    lambda: loaded.make(render_mode="rgb_array"),
                    folder,
                    "episode",
                    episodes=args.episodes,
                    seed=eval_seed,
                    fps=args.fps,
                )
            except ValueError as e:
                return fail(f"{loaded.env_id} cannot render frames: {e}", 2)
            join_videos(parts, args.out)
    frames = sum(result.lengths) + len(result.lengths)
    print(
        f"wrote {args.out}: {args.episodes} episode(s), {frames} frames, returns "
        f"{', '.join(f'{r:.4g}' for r in result.returns)}"
    )
    return 0
