"""Is the network why rlkit's Rainbow beats Obando-Ceron & Castro's on MinAtar? Rainbow on
the full action set with Dopamine's MinAtar network, beside the same Rainbow on MinAtar's
DQN network and beside their published curve (long runs, not in CI).

    python benchmarks/minatar_network.py --stop-at 1000000 --jobs 3
    python benchmarks/minatar_network.py --games SpaceInvaders Breakout --stop-at 500000
    python benchmarks/minatar_network.py --stop-at 1000000 --name minatar-network-1m
    python benchmarks/minatar_network.py --quick       # SpaceInvaders, seed 0, 20k steps

The full-set record (``benchmarks/minatar.py --actions full``) has rlkit's Rainbow far
above the curve of Obando-Ceron & Castro (2021, "Revisiting Rainbow") on SpaceInvaders
(91.9 at 1M against about 36), with their hyperparameters (``configs/dqn/MinAtar-*.rainbow.yaml``).
The one known difference in the set-up is the network. Ours is MinAtar's DQN network (Young
& Tian): 16 3x3 filters without padding (8x8 maps), a 128-unit layer, then the heads.
Theirs (Dopamine's ``MinatarRainbowNetwork``) pads the convolution ("same", 10x10 maps) and
puts the heads straight on the 1,600 flattened features. This script trains the second
network (``minatar_hidden=0 minatar_padding=1``; everything else as the record's Rainbow,
PyTorch's default initialisation included where theirs is Xavier's) in
``runs/minatar-full-dopamine-net``, and sets its curve beside the record's Rainbow runs
(``runs/minatar-full``, the same seeds, cut at the same step) and their published one.

If the network explains the gap, the Dopamine network's curve lies near theirs. The record
is ``docs/minatar-network.{json,png}`` (``--name``: another name, for a record at another
step beside it; as in ``minatar.py``, a call that would replace a record at another step
exits 2 before any run starts); the last line printed is its JSON summary: ``ours``
is the mean training return (last 100 episodes) of Rainbow on Dopamine's network at the
step, ``peer`` their published Rainbow there, ``mlp_128`` the record's Rainbow (on MinAtar's
DQN network) at the same step, for the first game.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:  # run as a script: import from
    sys.path[0] = str(HERE.parent)  # the repository, not benchmarks/ (its minatar.py would
    # hide the minatar package)
from benchmarks._records import ROOT, last_step  # noqa: E402
from benchmarks.minatar import (  # noqa: E402
    GAMES,
    REVISITING_RAINBOW_POINTS,
    published_at,
    record,
    replaces_another_step,
    round2,
    run_dir_of,
    train,
)

DOPAMINE_NET = ("minatar_hidden=0", "minatar_padding=1")
"""The overrides that make rlkit's MinAtar network Dopamine's."""
NETWORKS = {
    "dopamine": "Dopamine's MinAtar network: 16 3x3 filters, 'same' padding, heads on 1,600 features",
    "young_tian": "MinAtar's DQN network: 16 3x3 filters, no padding, 128 units, then the heads",
}


def comparison(variant: dict, reference: dict, games, at: int | None) -> dict:
    """The record: for each game, the Dopamine network's Rainbow (``variant``, a
    ``minatar.record`` of its runs) and the record's Rainbow (``reference``, the same of the
    record's runs, cut at the step the variant reached), with their published Rainbow at
    that step."""
    table = {}
    for game in games:
        ours = variant["games"][game]["rainbow"]
        mlp = reference["games"][game]["rainbow"]
        steps = ours["steps"]
        # the record's curve at the variant's steps (it has run further)
        mlp_at = {s: (m, lo, hi) for s, m, lo, hi in mlp["curve"]}
        published = published_at(REVISITING_RAINBOW_POINTS["rainbow"][game], steps)
        table[game] = {
            "steps": steps,
            "dopamine": {k: ours[k] for k in ("seeds", "running", "return_100", "seed_range")}
            | {"last_evals": ours["last_evals"], "curve": ours["curve"]},
            "young_tian": {
                "seeds": mlp["seeds"],
                "return_100": mlp_at[steps][0] if steps in mlp_at else None,
                "seed_range": list(mlp_at[steps][1:]) if steps in mlp_at else None,
                "curve": [p for p in mlp["curve"] if p[0] <= steps],
            },
            "revisiting_rainbow": round2(published) if steps else None,
        }
    first = table[games[0]]
    ours, peer = first["dopamine"]["return_100"], first["revisiting_rainbow"]
    return {
        "bench": "minatar_network",
        "at": at,
        "work": f"rainbow on MinAtar {', '.join(games)} (full action set), seeds "
        f"{variant['games'][games[0]]['rainbow']['seeds']}, Dopamine's MinAtar network "
        "against MinAtar's DQN network, one thread a run",
        "ours": ours,
        "peer": peer,
        "unit": f"{games[0]}: mean training return of Rainbow's last 100 episodes at step "
        f"{first['steps']} on Dopamine's MinAtar network (peer: Obando-Ceron & Castro 2021's "
        "Rainbow there, read off their figure)",
        "ratio": round(ours / peer, 3) if ours is not None and peer else None,
        "mlp_128": first["young_tian"]["return_100"],
        "networks": NETWORKS,
        "games": table,
    }


def plot(data: dict, path: Path) -> None:
    """One panel a game: both networks' mean curves (seed range shaded) and the published
    Rainbow."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlkit.io import save_figure

    games = list(data["games"])
    fig, axes = plt.subplots(1, len(games), figsize=(6 * len(games), 4.4), squeeze=False)
    for ax, game in zip(axes[0], games, strict=True):
        entry = data["games"][game]
        for key, label in (
            ("dopamine", "rlkit Rainbow, Dopamine's network"),
            ("young_tian", "rlkit Rainbow, MinAtar's DQN network (128 units)"),
        ):
            if entry[key]["curve"]:
                steps, mean, lo, hi = zip(*entry[key]["curve"], strict=True)
                n = len(entry[key]["seeds"])
                ax.plot(steps, mean, label=f"{label} (mean of {n} seed{'s' * (n > 1)})")
                ax.fill_between(steps, lo, hi, alpha=0.2)
        shown = max(entry["steps"] * 1.3, 1_000_000)
        points = [p for p in REVISITING_RAINBOW_POINTS["rainbow"][game] if p[0] <= shown * 1.5]
        ref_steps, ref_values = zip(*points, strict=True)
        ax.plot(
            ref_steps, ref_values, "x:", color="grey", label="Obando-Ceron & Castro 2021 Rainbow"
        )
        ax.set_xlim(0, shown)
        ax.set_ylim(bottom=0)
        ax.set_title(f"MinAtar {game}, full action set")
        ax.set_xlabel("environment steps (frames)")
        ax.set_ylabel("mean return, last 100 training episodes")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", nargs="+", default=["SpaceInvaders"], choices=GAMES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--total-steps", type=int, default=5_000_000)
    parser.add_argument("--stop-at", type=int, default=None, help="as benchmarks/minatar.py's")
    parser.add_argument("--jobs", type=int, default=3, help="runs at a time, one thread each")
    parser.add_argument("--root", type=Path, default=ROOT / "runs" / "minatar-full-dopamine-net")
    parser.add_argument(
        "--reference",
        type=Path,
        default=ROOT / "runs" / "minatar-full",
        help="the record's runs (MinAtar's DQN network), at least as far",
    )
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument(
        "--name",
        default="minatar-network",
        help="the record's file name, without .json / .png: a record at another step "
        "beside the first",
    )
    parser.add_argument("--quick", action="store_true", help="a small version (see the doc)")
    args = parser.parse_args()
    if not args.name or Path(args.name).name != args.name:
        parser.error(f"--name takes a bare file name, not {args.name!r}")
    if args.quick:
        args.games, args.seeds, args.total_steps, args.stop_at = (
            ["SpaceInvaders"],
            [0],
            20_000,
            None,
        )
        args.root = args.docs = ROOT / "runs" / "minatar-network-quick"
        args.docs.mkdir(parents=True, exist_ok=True)
    stop = args.stop_at or args.total_steps
    out = args.docs / f"{args.name}.json"
    clash = replaces_another_step(out, args.stop_at)
    if clash is not None:
        parser.exit(2, f"minatar_network.py: {clash}\n")  # before any run is trained or resumed
    if not args.report_only:
        jobs = [(g, s) for g in args.games for s in args.seeds]

        def one(job: tuple[str, int]) -> int:
            game, seed = job
            run_dir = run_dir_of(args.root, game, "rainbow", seed)
            return train(
                game, "rainbow", seed, run_dir, args.total_steps, stop, "full", DOPAMINE_NET
            )

        with ThreadPoolExecutor(args.jobs) as pool:
            codes = list(pool.map(one, jobs))
        for (game, seed), code in zip(jobs, codes, strict=True):
            if code and last_step(run_dir_of(args.root, game, "rainbow", seed)) < stop:
                print(f"{game} seed {seed}: exit {code} (run again to resume)")
    variant = record(
        args.root, args.games, ["rainbow"], args.seeds, at=args.stop_at, actions="full"
    )
    reference = record(args.reference, args.games, ["rainbow"], args.seeds, actions="full")
    data = comparison(variant, reference, args.games, args.stop_at)
    from rlkit.io import atomic_write_json

    atomic_write_json(out, data)
    plot(data, out.with_suffix(".png"))
    print(json.dumps({k: v for k, v in data.items() if k != "games"}))


if __name__ == "__main__":
    main()
