"""MinAtar learning record: DQN and Rainbow on Breakout and SpaceInvaders, 3 seeds each,
beside the published DQN curves of Young & Tian (2019) (long runs, not in CI).

    python benchmarks/minatar.py [--stop-at 1000000] [--jobs 2]
    python benchmarks/minatar.py --games Breakout --algos dqn --seeds 0 --stop-at 500000
    python benchmarks/minatar.py --report-only     # the record of the runs so far
    python benchmarks/minatar.py --report-only --stop-at 500000   # the record at 500k
    python benchmarks/minatar.py --report-only --stop-at 500000 --keep docs/minatar.json
    python benchmarks/minatar.py --quick           # Breakout, one seed, 20k steps, in runs/minatar-quick
    python benchmarks/minatar.py --actions full --games Breakout --algos dqn --stop-at 500000
    python benchmarks/minatar.py --actions full --report-only --stop-at 1000000 --name minatar-full-1m
    python benchmarks/minatar.py --actions full --legs   # a table of the records at every step
    python benchmarks/minatar.py --actions full --algos dqn --every 500000  # a record a leg

Each run is ``rlkit train dqn MinAtar/<Game>-v1`` with ``configs/dqn/MinAtar-<Game>-v1.yaml``
(MinAtar's DQN) or its ``.rainbow.yaml`` preset, one thread, ``--jobs`` runs at a time, in
``runs/minatar/<game>-<algo>-s<seed>``. The replay is checkpointed (``save_replay=true``,
about 100 MB a run here) so that a run stopped at the end of a sitting continues exactly:
running the script again resumes every unfinished run, and a finished one is left as it
is. Every run is one of ``--total-steps`` (the published 5M frames; a MinAtar frame is one
env step), so that its schedules (epsilon over the first 100k steps, Rainbow's importance
sampling exponent) are the configs'; ``--stop-at N`` stops each run, saved, once it has
logged N steps, for a record of as many frames as fit, and a later call with a larger
N continues from there.

The record (``docs/minatar.json``, ``docs/minatar.png``): for each game and algorithm with
runs (those trained this time and any other under the root) the mean over seeds of
``rollout/ep_return`` (the mean return of the last 100 training episodes, the measure of
the paper's curves) against env steps, up to the steps every seed has reached (with
``--stop-at N``: over the seeds that reached N, each cut there, the others listed under
``running`` with their last step; where no seed of a game and algorithm reached N, up to
the step all of them reached, which its ``steps`` gives); each seed's last periodic
evaluation; and Young & Tian's DQN at the same steps, whose points are read off the
learning-curve figure of the minatar repository
(``img/learning_curves.gif``: 30 seeds, 100-episode moving average; digitised from the
pixels of the blue curve, so good to about +-0.3 on Breakout and +-2 on SpaceInvaders).
They played the full six-action set; the ``-v1`` ids here use each game's minimal set
(both with MinAtar's sticky actions, 0.1). Beside them, Obando-Ceron & Castro's (2021,
"Revisiting Rainbow") DQN and Rainbow, read the same way off their MinAtar figure (the
``revisitingMinatar.png`` of the authors' blog post, psc-g.github.io: 5 seeds, Dopamine's
DQN and their Rainbow with noisy, dueling and double Q, each point the mean training
return over one iteration of 1M steps, drawn here at the iteration's middle; good to
about +-0.2 on Breakout and +-1 on SpaceInvaders).

``--keep`` adds the seeds of a previous record (at the same ``--stop-at``) that no run dir
under ``--root`` has: a record of runs made on machines whose run dirs are gone. Each kept
seed's curve is as that record rounded it, and ``kept_seeds`` names them.

A record is written at one step: a call whose record would replace one at another step
(e.g. training Rainbow on to 1M while ``docs/minatar-full.json`` is the 500k record) exits
2 before any run starts; ``--name`` writes it beside that one.

``--every N`` trains in legs of N steps, as a loop of ``--stop-at N``, ``--stop-at 2N``, ...
up to ``--stop-at`` (or ``--total-steps``) would, and writes each leg's record as
``<name>-<N/1000>k.json`` / ``.png`` (``minatar-full-500k``, ``minatar-full-1000k``, ...)
as soon as its runs have all reached it; a call stopped on the way starts again from the
runs' checkpoints and rewrites the legs already passed (the same records). With
``--report-only`` it writes the record of every leg the runs have reached.

``--legs`` trains nothing: it prints a markdown table of every record of the action set in
``--docs`` (one row a step: each algorithm's return on each game, the published value at
that step and their ratio), the leg-by-leg tables of ``docs/minatar.md``.

``--actions full`` plays the ``-v0`` ids (all six actions, as Young & Tian's DQN did) with
the same configs, in ``runs/minatar-full`` and ``docs/minatar-full.{json,png}``: the
action set is the one difference between the two records' runs, and the comparison with
the published curves is like for like only on the full set (on Breakout, where three of
the six actions are no-ops, epsilon's random actions move the paddle half as often, and
``benchmarks/minatar_exploration.py`` measures what that is worth to a trained policy).

The last line is the JSON summary: ``ours`` / ``peer`` are our DQN's and the paper's
DQN's returns on the first game at the last step all seeds reached (``by_game``: every
game's).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script
from benchmarks._records import (  # noqa: E402
    ROOT,
    last_step,
    read_rows,
    train_or_resume,
    training_wall,
)
from rlkit.compare import step_label  # noqa: E402
from rlkit.envs.minatar import ACTION_SETS  # noqa: E402

GAMES = ("Breakout", "SpaceInvaders")
ALGOS = ("dqn", "rainbow")
YOUNG_TIAN_DQN = {  # (env steps, mean training return over the last 100 episodes)
    "Breakout": [
        (100_000, 4.3),
        (250_000, 6.7),
        (500_000, 8.3),
        (750_000, 8.9),
        (1_000_000, 9.2),
        (1_500_000, 9.4),
        (2_000_000, 9.6),
        (2_500_000, 9.7),
        (3_000_000, 9.9),
        (4_000_000, 9.9),
        (5_000_000, 10.1),
    ],
    "SpaceInvaders": [
        (100_000, 15.8),
        (250_000, 21.4),
        (500_000, 27.8),
        (750_000, 28.4),
        (1_000_000, 33.0),
        (1_500_000, 38.4),
        (2_000_000, 41.3),
        (2_500_000, 42.7),
        (3_000_000, 44.0),
        (4_000_000, 43.8),
        (5_000_000, 43.3),
    ],
}


REVISITING_RAINBOW = {  # algo -> game -> (env steps, mean training return of that iteration)
    "dqn": {
        "Breakout": [2.97, 5.59, 5.93, 6.13, 6.39, 6.36, 6.64, 6.93, 7.16, 7.40],
        "SpaceInvaders": [15.8, 25.6, 29.2, 31.3, 31.6, 31.9, 32.5, 33.1, 34.0, 34.0],
    },
    "rainbow": {
        "Breakout": [4.58, 6.81, 7.75, 8.38, 8.98, 9.56, 10.10, 10.60, 11.02, 11.27],
        "SpaceInvaders": [25.6, 46.9, 63.7, 76.1, 81.1, 84.5, 88.5, 91.0, 92.1, 92.7],
    },
}
REVISITING_RAINBOW_POINTS = {
    algo: {
        game: [(500_000 + 1_000_000 * i, v) for i, v in enumerate(values)]
        for game, values in games.items()
    }
    for algo, games in REVISITING_RAINBOW.items()
}


def run_dir_of(root: Path, game: str, algo: str, seed: int) -> Path:
    """Where one run lives."""
    return root / f"{game.lower()}-{algo}-s{seed}"


def config_of(game: str, algo: str) -> Path:
    """The config file of a game and algorithm."""
    suffix = ".rainbow" if algo == "rainbow" else ""
    return ROOT / "configs" / "dqn" / f"MinAtar-{game}-v1{suffix}.yaml"


def env_id_of(game: str, actions: str = "minimal") -> str:
    """The gymnasium id of a game with the ``minimal`` (``-v1``) or ``full`` (``-v0``)
    action set."""
    return f"MinAtar/{game}-{ACTION_SETS[actions]}"


def train(
    game: str,
    algo: str,
    seed: int,
    run_dir: Path,
    total_steps: int,
    stop_at: int,
    actions: str = "minimal",
    overrides: Sequence[str] = (),
) -> int:
    """Start, continue or skip one run (see the module doc), stopping it (saved) once it
    has logged ``stop_at`` steps; its exit status (0 also for a run already that far). A
    ``stop_at`` of ``total_steps`` or more lets the run end by itself, final evaluation
    and ``summary.json`` included (a SIGTERM at its last step would save it without them,
    and a later call then resumes it to finish). The config is the game's (``-v1``) file
    with either action set, and ``overrides`` (``key=value``) on top of it."""
    to_the_end = stop_at >= total_steps
    if last_step(run_dir) >= stop_at and not to_the_end:
        return 0
    start = [
        "dqn",
        env_id_of(game, actions),
        "--config",
        str(config_of(game, algo)),
        "--seed",
        str(seed),
        "--run-dir",
        str(run_dir),
        "--wandb",
        "disabled",
        "--quiet",
        f"total_steps={total_steps}",
        "save_replay=true",
        *overrides,
    ]
    stop_when = None if to_the_end else (lambda: last_step(run_dir) >= stop_at)
    return train_or_resume(run_dir, start, threads=1, quiet=True, stop_when=stop_when)


def curve_of(rows: list[dict]) -> dict[int, float]:
    """A run's ``rollout/ep_return`` by env step (the last row of a step wins)."""
    return {r["step"]: r["rollout/ep_return"] for r in rows if "rollout/ep_return" in r}


@dataclass
class Seeds:
    """Some seeds of one game and algorithm: ``(step, mean, min, max)`` over them at the
    steps all of them logged, and each seed's last evaluation and training wall time."""

    seeds: tuple[int, ...]
    curve: list[tuple[int, float, float, float]]
    evals: list[float | None]
    walls: list[float]


def combine(parts: list[Seeds]) -> Seeds:
    """The seeds of all ``parts`` as one (their seed sets are disjoint): the mean weighted by
    each part's number of seeds, the least min and the greatest max, at the steps every part
    has; the evaluations and walls in seed order."""
    if not parts:
        return Seeds((), [], [], [])
    common = sorted(set.intersection(*({s for s, *_ in p.curve} for p in parts)))
    at = [{s: rest for s, *rest in p.curve} for p in parts]
    n = [len(p.seeds) for p in parts]
    curve = []
    for step in common:
        values = [a[step] for a in at]
        mean = sum(k * v[0] for k, v in zip(n, values, strict=True)) / sum(n)
        curve.append((step, mean, min(v[1] for v in values), max(v[2] for v in values)))
    order = sorted((seed, p.evals[i], p.walls[i]) for p in parts for i, seed in enumerate(p.seeds))
    return Seeds(tuple(o[0] for o in order), curve, [o[1] for o in order], [o[2] for o in order])


def kept_parts(kept: dict | None, at: int | None, game: str, algo: str) -> Seeds | None:
    """The seeds a previous record (``--keep``) holds for ``game`` and ``algo``, made at the
    same ``--stop-at``; None when it has none."""
    if not kept:
        return None
    entry = kept.get("games", {}).get(game, {}).get(algo)
    if not entry or not entry.get("seeds"):
        return None
    if at is None or (entry["steps"] != at and kept.get("at") != at):
        raise SystemExit(
            f"--keep: its {game} {algo} seeds end at step {entry['steps']}; "
            f"give the same --stop-at ({entry['steps']})"
        )
    return Seeds(
        tuple(entry["seeds"]),
        [tuple(point) for point in entry["curve"]],
        list(entry["last_evals"]),
        list(entry["wall_s"]),
    )


def recorded(root: Path, games, algos, seeds) -> tuple[list[str], list[str]]:
    """The games and algorithms the record covers: those asked for, and any other with a
    run of one of ``seeds`` under ``root``, so that training one of them (``--games``,
    ``--algos``) does not drop the others' runs from the record it rewrites."""

    def has_runs(game: str, algo: str) -> bool:
        return any(run_dir_of(root, game, algo, s).is_dir() for s in seeds)

    return (
        [g for g in GAMES if g in games or any(has_runs(g, a) for a in ALGOS)],
        [a for a in ALGOS if a in algos or any(has_runs(g, a) for g in GAMES)],
    )


def round2(value: float | None) -> float | None:
    """``value`` to two decimals (None stays None)."""
    return None if value is None else round(value, 2)


def published_at(points: list[tuple[int, float]], step: int) -> float | None:
    """The published curve at ``step`` (linear between its points, none outside them)."""
    steps, values = zip(*points, strict=True)
    if step < steps[0] or step > steps[-1]:
        return None
    return float(np.interp(step, steps, values))


def legs_to(stop: int, every: int) -> list[int]:
    """The steps at which ``--every`` writes a record: every multiple of ``every`` below
    ``stop``, then ``stop`` itself."""
    return [*range(every, stop, every), stop]


def leg_name(name: str, at: int) -> str:
    """The file name of the record at step ``at`` among ``--every``'s legs:
    ``minatar-full-500k`` (``minatar-full-1250`` for a step not a whole thousand)."""
    return f"{name}-{at // 1000}k" if at % 1000 == 0 else f"{name}-{at}"


def record(
    root: Path,
    games,
    algos,
    seeds,
    at: int | None = None,
    kept: dict | None = None,
    actions: str = "minimal",
) -> dict:
    """The learning record of the runs under ``root`` (see the module doc). With ``at``, the
    record at that step: the mean over the seeds that reached it, each cut there, and the
    others listed as still running with their last step (an entry none of whose seeds
    reached it: up to the step all of them reached); without, every seed's curve up to
    the steps all of them reached. ``kept`` (a previous record at the same ``at``) adds
    its seeds where no run under ``root`` has them (``kept_seeds`` lists them): a record
    made across machines whose run dirs did not all survive. ``actions`` names the action
    set the runs played (it goes into ``work`` and ``actions``)."""
    table: dict[str, dict] = {}
    for game in games:
        table[game] = {}
        for algo in algos:
            logged = {s: read_rows(run_dir_of(root, game, algo, s)) for s in seeds}
            ends = {s: max(curve_of(rows), default=0) for s, rows in logged.items() if rows}
            running = {s: e for s, e in ends.items() if at is not None and e < at}
            # no seed reached ``at`` (an algorithm run for fewer steps than another): the
            # entry stops where all its seeds are, and its ``steps`` says where
            short = bool(ends) and len(running) == len(ends)
            cut = min(ends.values()) if short else at
            parts = []
            for seed in ends:
                if seed in running and not short:
                    continue
                rows = [r for r in logged[seed] if cut is None or r["step"] <= cut]
                last_eval = next(
                    (r["eval/mean_return"] for r in reversed(rows) if "eval/mean_return" in r),
                    None,
                )
                curve = [(s, v, v, v) for s, v in sorted(curve_of(rows).items())]
                parts.append(Seeds((seed,), curve, [last_eval], [training_wall(rows)[-1]]))
            old = kept_parts(kept, at, game, algo)
            if old is not None and set(ends) & set(old.seeds):
                old = None  # a seed run here again: the runs under root win, wholly
            both = combine([*parts, *([old] if old is not None else [])])
            last = both.curve[-1] if both.curve else None
            steps = last[0] if last else 0
            published = {f"revisiting_rainbow_{algo}": REVISITING_RAINBOW_POINTS[algo][game]}
            if algo == "dqn":
                published["young_tian_dqn"] = YOUNG_TIAN_DQN[game]
            table[game][algo] = {
                "seeds": list(both.seeds),
                "kept_seeds": list(old.seeds) if old is not None else [],
                "running": running,  # seeds short of ``at``: their last logged step
                "steps": steps,
                "return_100": round(last[1], 2) if last else None,
                "seed_range": [round(last[2], 2), round(last[3], 2)] if last else None,
                # the published curves at the same step (None outside their points)
                "published": {
                    k: round2(published_at(v, steps)) if steps else None
                    for k, v in published.items()
                },
                "last_evals": both.evals,
                "wall_s": [round(w) for w in both.walls],
                "curve": [
                    (s, round(m, 2), round(lo, 2), round(hi, 2)) for s, m, lo, hi in both.curve
                ],
            }
    ours = {g: table[g].get("dqn", {}).get("return_100") for g in games}
    peer = {g: table[g].get("dqn", {}).get("published", {}).get("young_tian_dqn") for g in games}
    ratio = {
        g: round(ours[g] / peer[g], 3) if ours[g] is not None and peer[g] else None for g in games
    }
    first = games[0]
    # a leg stopped before any seed reached ``at`` (SIGTERM, a crash) still writes its
    # record; the headline then says where the seeds are rather than claim ``at``
    reached = table[first].get("dqn", {}).get("steps")
    if at is None:
        where = "at the last step all its seeds reached"
    elif reached is not None and reached != at:
        where = f"at step {reached}, the last step all its seeds reached (none reached {at})"
    else:
        where = f"at step {at}, over the seeds that reached it"
    return {
        "bench": "minatar",
        "at": at,
        "work": f"{' and '.join(algos)} on MinAtar {', '.join(games)}, seeds {list(seeds)}, "
        f"{actions} action set, one thread a run",
        "ours": ours[first],
        "peer": peer[first],
        "unit": f"{first}: mean training return of DQN's last 100 episodes {where} "
        "(peer: Young & Tian 2019's DQN at that step)",
        "ratio": ratio[first],
        "by_game": {g: {"ours": ours[g], "peer": peer[g], "ratio": ratio[g]} for g in games},
        "actions": actions,
        "games": table,
    }


def replaces_another_step(path: Path, at: int | None) -> str | None:
    """Why writing the record at step ``at`` (None: the steps all seeds reached) to
    ``path`` would replace a record at another step, or None where it would not (no
    record there yet, or one at the same step): a call that trains one algorithm on to a
    later step must not overwrite the earlier record it started from."""
    if not path.exists():
        return None
    try:
        previous = json.loads(path.read_text()).get("at")
    except (ValueError, AttributeError):
        return f"{path} is not a record; move it away or pass --name"
    if previous == at:
        return None
    step = "the last step all seeds reached" if at is None else f"step {at}"
    return (
        f"{path} is the record at step {previous} and this call would write it at {step}: "
        "pass --name to write it beside that one, or remove it"
    )


LEG_PEERS = {"dqn": "young_tian_dqn", "rainbow": "revisiting_rainbow_rainbow"}


def legs_table(records: list[dict]) -> str:
    """A markdown table of records at several steps (the legs of one long record): in each
    cell the mean training return, the published value at the same step and their ratio
    (DQN against Young & Tian's DQN, Rainbow against Obando-Ceron & Castro's Rainbow).
    A cell whose seeds had not all reached the record's step says where they were."""
    columns = [(algo, game) for algo in ALGOS for game in GAMES]
    lines = [
        "| step | "
        + " | ".join(f"{a.upper() if a == 'dqn' else a.title()} {g}" for a, g in columns)
        + " |",
        "| --- |" + " --- |" * len(columns),
    ]
    for data in sorted(records, key=lambda d: d["at"]):
        cells = [step_label(data["at"])]
        for algo, game in columns:
            entry = data["games"].get(game, {}).get(algo)
            if not entry or entry["return_100"] is None:
                cells.append("-")
                continue
            ours, peer = entry["return_100"], entry["published"].get(LEG_PEERS[algo])
            cell = f"{ours} / {peer} ({ours / peer:.2f})" if peer else f"{ours}"
            if entry["steps"] != data["at"]:
                cell += f" at {step_label(entry['steps'])}"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def records_in(docs: Path, actions: str) -> list[dict]:
    """Every MinAtar record at a step in ``docs`` played on this action set (a file there
    that is not such a record is passed over)."""
    found = []
    for path in sorted(docs.glob("minatar*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        at_a_step = data.get("bench") == "minatar" and data.get("at") is not None
        if at_a_step and data.get("actions", "minimal") == actions:
            found.append(data)
    return found


def plot(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rlkit.io import save_figure

    games = list(data["games"])
    fig, axes = plt.subplots(1, len(games), figsize=(6 * len(games), 4.6), squeeze=False)
    for ax, game in zip(axes[0], games, strict=True):
        end, top = 0, 0.0  # the steps our curves reach; the highest value shown
        actions = data.get("actions", "minimal")
        for algo, entry in data["games"][game].items():
            if not isinstance(entry, dict) or not entry["curve"]:
                continue
            steps, mean, lo, hi = zip(*entry["curve"], strict=True)
            n = len(entry["seeds"])
            ax.plot(steps, mean, label=f"rlkit {algo}, {actions} actions (mean of {n} seeds)")
            ax.fill_between(steps, lo, hi, alpha=0.2)
            end, top = max(end, steps[-1]), max(top, *hi)
        # the published curves up to a little past ours (all of them when ours is long)
        shown = max(end * 1.3, 1_000_000) if end else None
        references = [
            (YOUNG_TIAN_DQN[game], "k^--", None, "Young & Tian 2019 DQN (read off the figure)"),
            *(
                (
                    REVISITING_RAINBOW_POINTS[algo][game],
                    style,
                    "grey",
                    f"Obando-Ceron & Castro 2021 {algo}",
                )
                for algo, style in (("dqn", "s:"), ("rainbow", "x:"))
            ),
        ]
        for points, style, color, label in references:
            ref_steps, ref_values = zip(*points, strict=True)
            ax.plot(
                ref_steps, ref_values, style, label=label, **({"color": color} if color else {})
            )
            top = max([top, *(v for s, v in points if shown is None or s <= shown)])
        if shown is not None:
            ax.set_xlim(0, shown)
            ax.set_ylim(0, top * 1.1)
        ax.set_title(f"MinAtar {game}")
        ax.set_xlabel("environment steps (frames)")
        ax.set_ylabel("mean return, last 100 training episodes")
        ax.grid(alpha=0.3)
    if len(games) == 1:  # one plot: its legend inside it
        axes[0][0].legend(loc="lower right", fontsize=7)
        fig.tight_layout()
    else:  # one legend, below the plots
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8)
        fig.tight_layout(rect=(0, 0.12, 1, 1))
    save_figure(fig, path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", nargs="+", default=list(GAMES), choices=GAMES)
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=ALGOS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--total-steps", type=int, default=5_000_000)
    parser.add_argument(
        "--stop-at",
        type=int,
        default=None,
        help="stop each run (saved, to be continued) once it has logged this many steps; "
        "its schedules still run over --total-steps",
    )
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one thread each")
    parser.add_argument(
        "--actions",
        choices=tuple(ACTION_SETS),
        default="minimal",
        help="minimal: the -v1 ids (the record); full: the -v0 ids, all six actions, "
        "in runs/minatar-full and docs/minatar-full.*",
    )
    parser.add_argument("--root", type=Path, default=None, help="where the runs live")
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="a previous record (its JSON, at the same --stop-at) whose seeds count where no "
        "run dir under --root has them",
    )
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where the record goes")
    parser.add_argument(
        "--name",
        default=None,
        help="the record's file name, without .json / .png (default: minatar, or "
        "minatar-full with --actions full): a record at another step beside the first",
    )
    parser.add_argument(
        "--every",
        type=int,
        default=None,
        help="train in legs of this many steps up to --stop-at (or --total-steps), writing "
        "each leg's record as <name>-<N/1000>k.json / .png",
    )
    parser.add_argument("--quick", action="store_true", help="a small version (see the doc)")
    parser.add_argument(
        "--legs",
        action="store_true",
        help="print a markdown table of every record of this action set in --docs, one row "
        "a step, and exit (trains nothing)",
    )
    args = parser.parse_args()
    if args.legs:
        print(legs_table(records_in(args.docs, args.actions)))
        return
    name = "minatar" if args.actions == "minimal" else f"minatar-{args.actions}"
    if args.root is None:
        args.root = ROOT / "runs" / name
    if args.name is not None:
        if not args.name or Path(args.name).name != args.name:
            parser.error(f"--name takes a bare file name, not {args.name!r}")
        name = args.name
    if args.quick:
        args.games, args.seeds, args.total_steps, args.stop_at = ["Breakout"], [0], 20_000, None
        args.root = args.docs = ROOT / "runs" / "minatar-quick"
        args.docs.mkdir(parents=True, exist_ok=True)
    if args.every is not None:
        if args.every < 1:
            parser.error(f"--every takes a positive number of steps, not {args.every}")
        if args.keep is not None or args.quick:
            parser.error("--every takes neither --keep (a record at one step) nor --quick")
        legs = [
            (at, leg_name(name, at)) for at in legs_to(args.stop_at or args.total_steps, args.every)
        ]
        if args.report_only:  # the legs some run has reached
            reached = max(
                (
                    last_step(run_dir_of(args.root, g, a, s))
                    for g in GAMES
                    for a in ALGOS
                    for s in args.seeds
                ),
                default=0,
            )
            legs = [(at, leg) for at, leg in legs if at <= reached]
    else:
        legs = [(args.stop_at, name)]
    for at, leg in legs:
        clash = replaces_another_step(args.docs / f"{leg}.json", at)
        if clash is not None:
            parser.exit(2, f"minatar.py: {clash}\n")  # before any run is trained or resumed
    for i, (at, leg) in enumerate(legs):
        if not run_leg(args, at, leg) and len(legs) > 1:
            wait = "; the next legs wait" if i + 1 < len(legs) else ""
            parser.exit(1, f"minatar.py: a run fell short of step {at}{wait}\n")


def run_leg(args: argparse.Namespace, stop_at: int | None, name: str) -> bool:
    """Train (unless ``--report-only``) every run of ``args`` to ``stop_at`` (None: to its
    end) and write the record at that step as ``<docs>/<name>.json`` / ``.png``; whether
    every run it trained got there."""
    reached = True
    stop = stop_at or args.total_steps  # where each run stops this time
    if not args.report_only:
        jobs = [(g, a, s) for g in args.games for a in args.algos for s in args.seeds]
        with ThreadPoolExecutor(args.jobs) as pool:
            codes = list(
                pool.map(
                    lambda j: train(
                        *j,
                        run_dir_of(args.root, *j),
                        args.total_steps,
                        stop,
                        args.actions,
                    ),
                    jobs,
                )
            )
        for job, code in zip(jobs, codes, strict=True):
            # (a run stopped at --stop-at exits by SIGTERM, as asked: nothing to say)
            if code and last_step(run_dir_of(args.root, *job)) < stop:
                print(f"{job}: exit {code} (its saved state still counts; run again to resume)")
                reached = False
    kept = json.loads(args.keep.read_text()) if args.keep is not None else None
    games, algos = recorded(args.root, args.games, args.algos, args.seeds)
    data = record(args.root, games, algos, args.seeds, at=stop_at, kept=kept, actions=args.actions)
    from rlkit.io import atomic_write_json

    atomic_write_json(args.docs / f"{name}.json", data)
    plot(data, args.docs / f"{name}.png")
    print(json.dumps({k: v for k, v in data.items() if k != "games"}))
    return reached


if __name__ == "__main__":
    main()
