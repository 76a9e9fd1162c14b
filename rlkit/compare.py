"""Comparing runs (``rlkit compare``): a table with confidence intervals and learning curves.

Runs are grouped by (implementation, algorithm, env id): rlkit's and ``rlkit baseline``'s
(SB3) runs of the same algorithm are separate groups. The algorithm is the run's ``algo``,
except that the DQN agent's options name the variant a paper would (``variant_of``:
``rainbow``, ``qr-dqn``, ``c51``, ``dqn+double+dueling``, ...), so that DQN and Rainbow runs
on one env are two groups and sb3-contrib's QR-DQN pairs with rlkit's. Runs are seeds of
one group only when their configs agree but for the seed, device and package versions
(``PER_RUN``): a sweep's trials are groups of their own, labelled by what differs.

For each group the table gives the number of seeds, the final eval mean with a 95%
stratified-bootstrap confidence interval across seeds and the interquartile mean (both
from ``rliable``; the IQM when there are several seeds), ``eval/auc``, wall time and
steps/s; on an Atari game of the Atari-57 table, the final eval mean and its interval
human-normalized (``rlkit.scores``). When
the runs of one implementation and algorithm cover two Atari games or more, a second table
aggregates their human-normalized final evals across the games as the Atari literature
does: mean, median and IQM with rliable's 95% stratified-bootstrap intervals. The figure
plots each group's mean eval return against env steps with a 95% bootstrap band across
seeds: rlkit solid, SB3 dashed, one colour per group.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.config import read_yaml
from rlkit.errors import BadInput, one_line
from rlkit.rundir import RunDir
from rlkit.scores import ATARI_SCORES, atari_game, human_normalized

BOOTSTRAP_REPS = 50_000
"""Bootstrap resamples of the table's intervals (rliable's default; about 2 s an interval on 2 CPU cores)."""
BAND_REPS = 2000
"""Bootstrap resamples of the figure's band, at every step of the curve."""
MARKED_POINTS = 12
"""Curves with at most this many evaluations get a marker at each."""


@dataclass
class RunData:
    """What compare reads from one finished run directory."""

    path: Path
    implementation: str
    algo: str
    env_id: str
    seed: int
    summary: dict[str, Any]
    curve_steps: np.ndarray
    curve_means: np.ndarray
    variant: str = ""
    """The algorithm as the table names it (``variant_of`` its config)."""
    setting: dict[str, Any] = field(default_factory=dict)
    """The config without what differs from seed to seed of one experiment (``setting_of``)."""


PER_RUN = ("seed", "device", "versions")
"""Config keys that may differ between runs of one experiment: the seed, the machine's
device and its package versions (a study's workers on several machines)."""


def setting_of(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without ``PER_RUN``: runs whose settings are equal are seeds of one group."""
    return {k: v for k, v in config.items() if k not in PER_RUN}


DQN_PARTS = (("double_q", "double"), ("dueling", "dueling"), ("prioritized", "per"))
"""The DQN options a variant's name lists (with ``noisy``); n-step returns are a setting
like the learning rate (SB3 has them too), not a variant."""


def variant_of(config: dict[str, Any]) -> str:
    """The algorithm of a run's config as compare names it: its ``algo``, but for ``dqn``
    the variant its options make: ``rainbow`` (C51, noisy nets, double Q, dueling, n-step
    and prioritized replay: Hessel et al. 2018's six parts), else ``dqn``, ``c51`` or
    ``qr-dqn`` (``distributional``) followed by ``+double``, ``+dueling``, ``+per`` and
    ``+noisy`` for the options that are on."""
    algo = str(config.get("algo", "?"))
    if algo != "dqn":
        return algo
    distributional = config.get("distributional", "none")
    base = {"c51": "c51", "qr": "qr-dqn"}.get(str(distributional), "dqn")
    parts = [name for key, name in DQN_PARTS if config.get(key) is True]
    if config.get("noisy") is True:
        parts.append("noisy")
    n_step = config.get("n_step", 1)
    multi_step = isinstance(n_step, int) and not isinstance(n_step, bool) and n_step > 1
    if base == "c51" and len(parts) == len(DQN_PARTS) + 1 and multi_step:
        return "rainbow"
    return "+".join([base, *parts])


@dataclass
class Group:
    """The runs of one (implementation, variant, env id) and setting: seeds of one experiment."""

    implementation: str
    variant: str
    env_id: str
    runs: list[RunData] = field(default_factory=list)
    differs: str = ""
    """Where runs of the same implementation, variant and env id come in several settings (a
    sweep's trials): this group's values of the keys in which they differ,
    ``learning_rate=0.001``; else empty."""

    @property
    def algo(self) -> str:
        """The runs' ``algo`` (``dqn`` for every DQN variant)."""
        return self.runs[0].algo if self.runs else self.variant

    @property
    def label(self) -> str:
        """``rlkit ppo`` / ``SB3 ppo`` / ``rlkit rainbow`` (the env id is added when groups
        differ in env), and the setting where it ``differs``."""
        name = f"{'SB3' if self.implementation == 'sb3' else 'rlkit'} {self.variant}"
        return f"{name} {self.differs}" if self.differs else name


def run_dirs_in(target: Path) -> list[Path]:
    """The run dirs a target names: itself when it holds ``config.yaml``, else the folders
    one level down that do (a ``--seeds`` parent, a sweep's study folder)."""
    if not target.is_dir():
        raise BadInput(f"no such run directory: {target}")
    if (target / "config.yaml").is_file():
        return [target]
    return sorted(p for p in target.iterdir() if p.is_dir() and (p / "config.yaml").is_file())


def find_runs(targets: list[Path]) -> tuple[list[Path], list[str]]:
    """Finished run dirs under ``targets`` (``run_dirs_in``) and warnings for unfinished ones."""
    runs, skipped = [], []
    for target in targets:
        candidates = run_dirs_in(target)
        if not candidates:
            raise BadInput(
                f"{target} holds no run directories (no config.yaml in it or its sub-folders)"
            )
        for run in candidates:
            if (run / "summary.json").is_file():
                runs.append(run)
            else:
                skipped.append(f"{run}: no summary.json (unfinished run), left out")
    if not runs:
        raise BadInput("no finished runs to compare (none has a summary.json)")
    return runs, skipped


SUMMARY_BYTES = 1 << 20
"""The largest ``summary.json`` compare reads (an rlkit summary is under a kilobyte)."""
NUMBERS = ("eval/mean_return", "eval/auc", "wall_time_s", "time/sps")
"""The summary's values compare computes with: each must be a number where present."""


def number(value: Any, where: str) -> float:
    """``value`` as a float when it is a JSON number (not a bool), else ``BadInput``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        shown = one_line(repr(value))
        raise BadInput(f"{where} must be a number, got {shown[:60]}{'...' * (len(shown) > 60)}")
    return float(value)


def read_run(path: Path) -> RunData:
    """Config, summary and eval curve (``eval/mean_return`` rows of ``metrics.jsonl``) of a
    run. A run dir is a user's file like any other: a summary that is not a JSON object of
    numbers where compare computes, a seed that is not an integer, or a metrics row that is
    not an object with a numeric ``step`` and ``eval/mean_return`` is ``BadInput`` (a line
    that is not JSON at all, as a crash cuts one, is skipped)."""
    config = read_yaml(path / "config.yaml")
    files = RunDir(path)
    where, summary = files.summary, files.read_summary(max_bytes=SUMMARY_BYTES)
    for key in NUMBERS:
        if key in summary:
            summary[key] = number(summary[key], f"{key} in {where}")
    seed = config.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise BadInput(f"seed in {path / 'config.yaml'} must be an integer")
    steps, means = [], []
    metrics = path / "metrics.jsonl"
    if metrics.is_file():
        with metrics.open(encoding="utf-8", errors="replace") as lines:
            for n, line in enumerate(lines, 1):
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash
                if not isinstance(row, dict):
                    raise BadInput(f"line {n} of {metrics} is not a JSON object")
                if "eval/mean_return" in row:
                    at = f"line {n} of {metrics}"
                    steps.append(number(row.get("step"), f"step on {at}"))
                    means.append(number(row["eval/mean_return"], f"eval/mean_return on {at}"))
    order = np.argsort(steps, kind="stable")
    return RunData(
        path,
        str(config.get("implementation", "rlkit")),
        str(config.get("algo", "?")),
        str(config.get("env_id", "?")),
        seed,
        summary,
        np.asarray(steps, dtype=float)[order],
        np.asarray(means, dtype=float)[order],
        variant_of(config),
        setting_of(config),
    )


def group_runs(runs: list[RunData]) -> list[Group]:
    """Groups in first-seen order: runs are seeds of one group when they share the
    implementation, variant and env id and their configs are equal but for ``PER_RUN``
    (the trials of a sweep, trained with one seed, are groups of one run each). Where one
    implementation, variant and env id has several settings, each group's label names the
    keys in which they differ (``Group.differs``)."""
    groups: dict[tuple[str, str, str, str], Group] = {}
    for run in runs:
        kind = (run.implementation, run.variant or run.algo, run.env_id)
        groups.setdefault((*kind, canonical(run.setting)), Group(*kind)).runs.append(run)
    out = list(groups.values())
    by_kind: dict[tuple[str, str, str], list[Group]] = {}
    for group in out:
        by_kind.setdefault((group.implementation, group.variant, group.env_id), []).append(group)
    for alike in by_kind.values():
        if len(alike) < 2:
            continue
        settings = [g.runs[0].setting for g in alike]
        keys = sorted({str(k) for st in settings for k in st})
        values = [{str(k): v for k, v in st.items()} for st in settings]
        differing = [k for k in keys if len({canonical(v.get(k)) for v in values}) > 1]
        for group, v in zip(alike, values, strict=True):
            group.differs = ", ".join(f"{k}={shown(v.get(k))}" for k in differing)
    return out


def canonical(value: Any) -> str:
    """One text for equal config values: JSON with every mapping's keys as text, sorted (a
    user's YAML may mix integer and text keys, which JSON cannot sort together)."""

    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), sort_keys=True, default=str)


def shown(value: Any) -> str:
    """A config value as a label shows it: scalars as YAML writes them, others as JSON."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, (int, float, str)):
        return str(value)
    return canonical(value)


def rliable_interval(
    scores: np.ndarray | list[np.ndarray], func: Any, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``func``'s point estimates and their 95% bootstrap intervals through rliable:
    ``scores`` a ``(runs, tasks)`` matrix (runs resampled within each task), or a list of
    such matrices each resampled on its own; ``(point, low, high)`` arrays."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from rliable import library as rly

        points, intervals = rly.get_interval_estimates(
            {"g": scores},
            func,
            reps=BOOTSTRAP_REPS,
            random_state=np.random.RandomState(seed),
        )
    (low, high), point = intervals["g"], points["g"]
    return point, low, high


def bootstrap(
    matrix: np.ndarray, names: tuple[str, ...], seed: int = 0
) -> dict[str, tuple[float, float, float]]:
    """rliable's aggregates ``names`` (of ``mean``, ``median``, ``iqm``) of a ``(runs,
    tasks)`` score matrix, each as ``(point, low, high)`` with its 95% stratified-bootstrap
    interval (runs resampled within each task)."""
    from rliable import metrics

    funcs = {
        "mean": metrics.aggregate_mean,
        "median": metrics.aggregate_median,
        "iqm": interquartile_mean,
    }
    point, low, high = rliable_interval(
        np.asarray(matrix, dtype=float),
        lambda x: np.array([funcs[name](x) for name in names]),
        seed,
    )
    return {name: (float(point[i]), float(low[i]), float(high[i])) for i, name in enumerate(names)}


def interquartile_mean(scores: np.ndarray) -> float:
    """rliable's ``aggregate_iqm``: the mean of all scores once the lowest and the highest
    ``int(n / 4)`` of the ``n`` are cut (scipy's ``trim_mean(scores, 0.25, axis=None)``), without
    the argument checks of scipy's wrapper: the bootstrap calls it 50,000 times an interval,
    and one interval of mean and IQM took 7.0 s with scipy's, 2.0 s with this (2 CPU cores)."""
    flat = np.asarray(scores, dtype=float).ravel()
    cut = int(0.25 * flat.size)
    return float(np.mean(np.partition(flat, (cut, flat.size - cut - 1))[cut : flat.size - cut]))


def interval_estimates(scores: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Mean, IQM and their 95% stratified-bootstrap intervals of per-seed ``scores`` (rliable)."""
    found = bootstrap(np.asarray(scores, dtype=float).reshape(-1, 1), ("mean", "iqm"), seed)
    (mean, mean_lo, mean_hi), (iqm, iqm_lo, iqm_hi) = found["mean"], found["iqm"]
    return {
        "mean": mean,
        "ci_low": mean_lo,
        "ci_high": mean_hi,
        "iqm": iqm,
        "iqm_low": iqm_lo,
        "iqm_high": iqm_hi,
    }


def summarize(group: Group) -> dict[str, Any]:
    """One table row of a group."""
    finals = np.array([r.summary.get("eval/mean_return", np.nan) for r in group.runs], dtype=float)
    row: dict[str, Any] = {
        "group": group.label,
        "implementation": group.implementation,
        "algo": group.algo,
        "variant": group.variant,
        "env_id": group.env_id,
        "seeds": sorted(r.seed for r in group.runs),
    }
    row.update(interval_estimates(finals))
    if len(finals) < 2:
        row["iqm"] = row["iqm_low"] = row["iqm_high"] = None
    # normalizing is linear and increasing, so the interval's ends map to its ends
    for key in ("mean", "ci_low", "ci_high"):
        row[f"hns_{key}"] = human_normalized(group.env_id, row[key])
    for key, name in (("eval/auc", "auc"), ("wall_time_s", "wall_s"), ("time/sps", "sps")):
        values = [float(r.summary[key]) for r in group.runs if key in r.summary]
        row[name] = float(np.mean(values)) if values else None
    return row


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as an aligned text table."""

    def num(value: Any, spec: str = ".4g") -> str:
        return "-" if value is None else format(value, spec)

    header = [
        "group",
        "env",
        "seeds",
        "final eval mean [95% CI]",
        "IQM",
        "eval/auc",
        "wall s",
        "steps/s",
    ]
    atari = any(row.get("hns_mean") is not None for row in rows)
    if atari:
        header.insert(4, "human-normalized [95% CI]")
    table = [header]
    for row in rows:
        line = [
            row["group"],
            row["env_id"],
            str(len(row["seeds"])),
            interval(row["mean"], row["ci_low"], row["ci_high"]),
            num(row["iqm"]),
            num(row["auc"]),
            num(row["wall_s"], ".1f"),
            num(row["sps"], ",.0f"),
        ]
        if atari:
            line.insert(4, interval(row["hns_mean"], row["hns_ci_low"], row["hns_ci_high"], ".3g"))
        table.append(line)
    return aligned(table)


def interval(value: float | None, low: float | None, high: float | None, spec: str = ".4g") -> str:
    """``value [low, high]``, or ``-`` when there is no value."""
    if value is None:
        return "-"
    return f"{value:{spec}} [{low:{spec}}, {high:{spec}}]"


def aligned(table: list[list[str]]) -> str:
    """A header line and rows as left-aligned columns, a rule under the header."""
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def atari_aggregates(groups: list[Group], seed: int = 0) -> list[dict[str, Any]]:
    """Human-normalized final evals aggregated across Atari games, one entry for each
    (implementation, algorithm) whose runs cover two Atari ids of the table or more (each id
    is one task: ``ALE/Pong-v5``, with sticky actions, is another task than
    ``PongNoFrameskip-v4``).

    Each game contributes the same number of runs, its first ``k`` by seed (``k`` the
    fewest any of the games has), since rliable's stratified bootstrap resamples a
    (runs, games) matrix, runs within each game. ``mean`` is the mean over games of each
    game's mean, ``median`` their median, ``iqm`` the interquartile mean of all runs of all
    games (Agarwal et al. 2021), each with its 95% interval.
    """
    by_algo: dict[tuple[str, str, str], list[Group]] = {}
    for group in groups:
        if atari_game(group.env_id) is not None:
            key = (group.implementation, group.variant, group.differs)
            by_algo.setdefault(key, []).append(group)
    out = []
    for (implementation, variant, _), games in by_algo.items():
        if len(games) < 2:
            continue
        finals = finals_matrix(games)  # (runs, games)
        k = len(finals)
        matrix = np.array(
            [[human_normalized(g.env_id, v) for v in finals[:, j]] for j, g in enumerate(games)],
            dtype=float,
        ).T
        found = bootstrap(matrix, ("mean", "median", "iqm"), seed)
        entry: dict[str, Any] = {
            "aggregate": "human-normalized",
            "group": games[0].label,
            "implementation": implementation,
            "algo": games[0].algo,
            "variant": variant,
            "env_ids": [g.env_id for g in games],
            "seeds_per_game": k,
        }
        for name, (point, low, high) in found.items():
            entry.update({name: point, f"{name}_low": low, f"{name}_high": high})
        out.append(entry)
    return out


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
    """rliable's ``probability_of_improvement``: for each task the probability that a run of
    X scores above a run of Y, ties counting half (the Mann-Whitney U statistic over
    ``n_x n_y``), averaged over the tasks; ``(runs, tasks)`` matrices. Counted by comparing
    every pair of runs instead of through scipy's ``mannwhitneyu``, whose argument checks
    cost more than the comparisons for a few seeds."""
    x, y = np.asarray(scores_x, dtype=float), np.asarray(scores_y, dtype=float)
    greater = (x[:, None, :] > y[None, :, :]).mean(axis=(0, 1))
    ties = (x[:, None, :] == y[None, :, :]).mean(axis=(0, 1))
    return float(np.mean(greater + 0.5 * ties))


def improvements(groups: list[Group], seed: int = 0) -> list[dict[str, Any]]:
    """For each algorithm and env id run by both rlkit and SB3: the probability that an
    rlkit run's final eval is above an SB3 run's (ties half), with its 95% bootstrap
    interval (each side's runs resampled on their own, within each env; rliable's
    ``StratifiedIndependentBootstrap``), as Agarwal et al. (2021) recommend for comparing two
    algorithms on few runs. 0.5 is no difference. Where both ran an algorithm on two envs or
    more, one more entry averages the probability over those envs (``env_id`` "all", each
    env taking the first ``k`` runs of each side by seed, ``k`` the fewest that side has on
    any of them), as rliable does over a suite's games."""
    sb3: dict[tuple[str, str], list[Group]] = {}
    for group in groups:
        if group.implementation == "sb3":
            sb3.setdefault((group.variant, group.env_id), []).append(group)
    pairs: dict[tuple[str, str], list[tuple[Group, Group]]] = {}
    for ours in groups:
        if ours.implementation != "rlkit":
            continue
        theirs = counterpart(ours, sb3.get((ours.variant, ours.env_id), []))
        if theirs is not None:
            pairs.setdefault((ours.variant, ours.differs), []).append((ours, theirs))
    out = []
    for (variant, differs), shared in pairs.items():
        cases = [([o], [t], o.env_id) for o, t in shared]
        if len(shared) > 1:
            cases.append(([o for o, _ in shared], [t for _, t in shared], "all"))
        for ours, theirs, env_id in cases:
            x, y = finals_matrix(ours), finals_matrix(theirs)
            point, low, high = rliable_interval(
                [x, y], lambda a, b: np.array([probability_of_improvement(a, b)]), seed
            )
            out.append(
                {
                    "comparison": "probability of improvement",
                    "algo": shared[0][0].algo,
                    "variant": variant,
                    "differs": differs,
                    "env_id": env_id,
                    "env_ids": [g.env_id for g in ours],
                    "of": "rlkit",
                    "over": "sb3",
                    "seeds": [len(x), len(y)],
                    "p": float(point[0]),
                    "p_low": float(low[0]),
                    "p_high": float(high[0]),
                }
            )
    return out


def counterpart(ours: Group, candidates: list[Group]) -> Group | None:
    """The SB3 group an rlkit group is compared with: the one SB3 group of its variant and
    env id, or, where there are several (a sweep of each), the one trained from the same
    setting; none when no such group exists."""
    if len(candidates) == 1:
        return candidates[0]

    def plain(group: Group) -> dict[str, Any]:
        return {k: v for k, v in group.runs[0].setting.items() if k != "implementation"}

    return next((g for g in candidates if plain(g) == plain(ours)), None)


def finals_matrix(groups: list[Group]) -> np.ndarray:
    """The final eval means of the groups' runs as a ``(runs, envs)`` matrix: the first
    ``k`` runs of each group by seed, ``k`` the fewest any of them has."""
    k = min(len(g.runs) for g in groups)
    return np.array(
        [
            [
                r.summary.get("eval/mean_return", np.nan)
                for r in sorted(g.runs, key=lambda r: r.seed)[:k]
            ]
            for g in groups
        ],
        dtype=float,
    ).T


def format_improvements(entries: list[dict[str, Any]]) -> str:
    """``improvements`` as a text table with a title line."""
    table = [["algo", "env", "seeds (rlkit, SB3)", "P(rlkit > SB3) [95% CI]"]]
    for e in entries:
        table.append(
            [
                " ".join(filter(None, [e.get("variant", e["algo"]), e.get("differs")])),
                e["env_id"] if e["env_id"] != "all" else f"all {len(e['env_ids'])} envs",
                f"{e['seeds'][0]}, {e['seeds'][1]}" + (" per env" if e["env_id"] == "all" else ""),
                interval(e["p"], e["p_low"], e["p_high"], ".2f"),
            ]
        )
    title = "probability that an rlkit run ends above an SB3 run (ties half; 0.5: no difference)"
    return title + "\n" + aligned(table)


def format_aggregates(entries: list[dict[str, Any]]) -> str:
    """``atari_aggregates`` as a text table with a title line."""
    table = [["group", "games", "seeds a game", "mean [95% CI]", "median [95% CI]", "IQM [95% CI]"]]
    for e in entries:
        table.append(
            [e["group"], str(len(e["env_ids"])), str(e["seeds_per_game"])]
            + [
                interval(e[m], e[f"{m}_low"], e[f"{m}_high"], ".3g")
                for m in ("mean", "median", "iqm")
            ]
        )
    title = "human-normalized final eval across Atari games (95% stratified-bootstrap intervals)"
    return title + "\n" + aligned(table)


def curve(group: Group, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(steps, mean, low, high)``: each run's eval curve on the union of steps (linear
    interpolation inside each run's range), averaged over the runs that cover a step, with a
    95% percentile-bootstrap band across seeds."""
    runs = [r for r in group.runs if len(r.curve_steps)]
    if not runs:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    steps = np.unique(np.concatenate([r.curve_steps for r in runs]))
    values = np.full((len(runs), len(steps)), np.nan)
    for i, run in enumerate(runs):
        inside = (steps >= run.curve_steps[0]) & (steps <= run.curve_steps[-1])
        values[i, inside] = np.interp(steps[inside], run.curve_steps, run.curve_means)
    rng = np.random.default_rng(seed)
    mean, low, high = (np.full(len(steps), np.nan) for _ in range(3))
    for j in range(len(steps)):
        column = values[:, j][~np.isnan(values[:, j])]
        if column.size == 0:
            continue
        mean[j] = column.mean()
        boot = rng.choice(column, size=(BAND_REPS, column.size), replace=True).mean(axis=1)
        low[j], high[j] = np.percentile(boot, [2.5, 97.5])
    return steps, mean, low, high


def step_label(step: float) -> str:
    """An env-step count as a short label: 2750000 -> '2.75M', 500000 -> '500k', 20 -> '20'."""
    if step >= 1e6:
        return f"{step / 1e6:g}M"
    return f"{step / 1e3:g}k" if step >= 1e3 else f"{step:g}"


def figure(groups: list[Group]) -> Any:
    """The learning-curve figure of every group (one panel per env id; an Atari game's
    panel has its human-normalized scale on the right).

    A curve of few evaluations is drawn with a marker at each, and a run that evaluated
    once (a short run) shows as a point with its band as an error bar, never as nothing.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = sorted({g.env_id for g in groups})
    fig, axes = plt.subplots(1, len(envs), figsize=(6.4 * len(envs), 4.2), squeeze=False)
    from matplotlib.ticker import FuncFormatter

    colours = {id(g): plt.get_cmap("tab10")(i % 10) for i, g in enumerate(groups)}
    steps_label = FuncFormatter(lambda x, _: step_label(x))
    for ax, env_id in zip(axes[0], envs, strict=True):
        for group in (g for g in groups if g.env_id == env_id):
            steps, mean, low, high = curve(group)
            if not len(steps):
                continue
            style = "--" if group.implementation == "sb3" else "-"
            colour = colours[id(group)]
            seeds = len(group.runs)
            marker = "o" if len(steps) <= MARKED_POINTS else None
            ax.plot(
                steps,
                mean,
                style,
                color=colour,
                linewidth=2,
                marker=marker,
                label=f"{group.label} ({seeds} seed{'s' if seeds > 1 else ''})",
            )
            if len(steps) == 1 and seeds > 1:  # a band needs two steps: an error bar instead
                ax.errorbar(steps, mean, yerr=[mean - low, high - mean], color=colour, capsize=4)
            elif seeds > 1:
                ax.fill_between(
                    steps,
                    low,
                    high,
                    color=colour,
                    alpha=0.12 if style == "-" else 0.08,
                    hatch=None if style == "-" else "//",
                    linewidth=0,
                )
        ax.set_title(env_id)
        ax.set_xlabel("environment steps")
        ax.xaxis.set_major_formatter(steps_label)
        ax.set_ylabel("mean evaluation return")
        game = atari_game(env_id)
        if game is not None:  # the same scale human-normalized, on the right
            random, human = ATARI_SCORES[game]
            right = ax.secondary_yaxis(
                "right",
                functions=(
                    lambda y, r=random, h=human: (y - r) / (h - r),
                    lambda x, r=random, h=human: r + x * (h - r),
                ),
            )
            right.set_ylabel("human-normalized")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=9)
    fig.suptitle(
        "mean eval return, 95% bootstrap band across seeds (rlkit solid, SB3 dashed)", fontsize=10
    )
    fig.tight_layout()
    return fig


def plot(groups: list[Group], out: Path) -> None:
    """Learning curves of every group (``figure``) into ``out``, written atomically."""
    from rlkit.io import save_figure

    save_figure(figure(groups), out, dpi=120)
