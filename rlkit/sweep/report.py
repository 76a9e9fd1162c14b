"""``rlkit sweep --report``: a study's best trial, trial table, parameter importances, two
plots, ``report.json`` and the best config as YAML."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from rlkit import launch
from rlkit.config import build_config, config_dict, merge
from rlkit.sweep.space import OBJECTIVES, decode_choice, nest


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def build_report(study: Any) -> dict[str, Any]:
    """Best trial, table, importances: as data and as text."""
    import optuna

    identity = study.user_attrs.get("rlkit", {})
    objective = identity.get("objective", "value")
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("skipped")]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in optuna.trial.TrialState}
    what = (
        f"{identity.get('algo', '?')} on {identity.get('env_id', '?')}"
        if identity
        else "not an rlkit sweep"
    )
    lines = [
        f"study {study.study_name}: {what}; objective {OBJECTIVES.get(objective, objective)} "
        f"({study.direction.name.lower()}); {len(trials)} trials: "
        + ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    ]
    data: dict[str, Any] = {
        "study": study.study_name,
        "objective": objective,
        "counts": counts,
        "best": None,
        "importances": {},
        "trials": [],
    }
    if complete:
        best = study.best_trial
        params = {k: decode_choice(v) for k, v in best.params.items()}
        data["best"] = {
            "number": best.number,
            "value": best.value,
            "params": params,
            "run_dir": best.user_attrs.get("run_dir"),
        }
        lines.append(f"best: trial {best.number}, value {best.value:.6g}")
        lines += [f"  {k} = {_fmt(v)}" for k, v in params.items()]
        if best.user_attrs.get("run_dir"):
            lines.append(f"  run dir: {best.user_attrs['run_dir']}")
    else:
        lines.append("best: none yet (no trial completed)")
    names = sorted({k for t in trials for k in t.params})
    params = {t.number: {k: decode_choice(v) for k, v in t.params.items()} for t in trials}
    # each parameter's column as wide as its name or its widest value
    cells = {n: {k: _fmt(v) for k, v in p.items()} for n, p in params.items()}
    widths = {k: max([len(k), *(len(c.get(k, "-")) for c in cells.values())]) for k in names}
    header = (
        f"{'trial':>5} {'state':<8} {'value':>10} {'last eval':>10} {'step':>9} {'wall s':>7}  "
        + "  ".join(f"{k:<{widths[k]}}" for k in names)
    ).rstrip()
    lines += ["", header]
    for t in sorted(trials, key=lambda t: t.number):
        step = max(t.intermediate_values) if t.intermediate_values else None
        last = t.intermediate_values[step] if step is not None else None
        wall = t.duration.total_seconds() if t.duration else None
        # Optuna gives a pruned trial its last eval as value: only a finished trial has one
        value = t.value if t.state == optuna.trial.TrialState.COMPLETE else None
        row = {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": value,
            "last_eval": last,
            "step": step,
            "wall_s": wall,
            "params": params[t.number],
            "error": t.user_attrs.get("error"),
            "run_dir": t.user_attrs.get("run_dir"),
            "worker": t.user_attrs.get("worker"),
        }
        data["trials"].append(row)
        line = (
            f"{t.number:>5} {row['state']:<8} {_cell(value):>10} {_cell(last):>10} "
            f"{'' if step is None else f'{step:,}':>9} {_cell(wall, '.0f'):>7}  "
            + "  ".join(f"{cells[t.number].get(k, '-'):<{widths[k]}}" for k in names)
        )
        lines.append(line.rstrip())
    if len(complete) >= 2 and names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                imp = optuna.importance.get_param_importances(
                    study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
                )
        except (ValueError, RuntimeError) as e:
            lines += ["", f"parameter importances: not available ({e})"]
        else:
            data["importances"] = dict(imp)
            lines += ["", "parameter importances (fANOVA):"]
            lines += [f"  {k:<24} {v:.3f}" for k, v in imp.items()]
    else:
        lines += ["", "parameter importances: need at least two completed trials"]
    data["text"] = "\n".join(lines)
    return data


def _cell(value: Any, spec: str = ".5g") -> str:
    return "" if value is None else format(value, spec)


def write_report_files(study: Any, result: dict[str, Any], out: Path) -> list[Path]:
    """history.png, importance.png, report.json and best-config.yaml (when there is a best)."""
    import matplotlib

    matplotlib.use("Agg")
    import optuna

    from rlkit.io import atomic_write_json, atomic_write_text, atomic_write_yaml, save_figure

    written = []
    plots = [("history.png", optuna.visualization.matplotlib.plot_optimization_history, {})]
    if result["importances"]:
        plots.append(
            (
                "importance.png",
                optuna.visualization.matplotlib.plot_param_importances,
                {"evaluator": optuna.importance.FanovaImportanceEvaluator(seed=0)},
            )
        )
    for name, plot, kwargs in plots:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ax = plot(study, **kwargs)
        fig = ax.figure
        for loc in ("left", "right"):  # Optuna titles some plots on the left: one title only
            ax.set_title("", loc=loc)
        if name == "history.png":
            ax.set_title(
                f"study {study.study_name}: {OBJECTIVES.get(result['objective'], 'value')} by trial"
            )
            ax.set_ylabel(OBJECTIVES.get(result["objective"], "objective value"))
        else:
            ax.set_title(f"study {study.study_name}: parameter importances (fANOVA)")
            if ax.get_legend() is not None:  # one series, named after the objective: no legend
                ax.get_legend().remove()
        fig.set_size_inches(8, 4.5)
        fig.tight_layout()
        save_figure(fig, out / name, dpi=110)
        written.append(out / name)
    data = {k: v for k, v in result.items() if k != "text"}
    atomic_write_json(out / "report.json", data)
    atomic_write_text(out / "report.txt", result["text"] + "\n")
    written += [out / "report.json", out / "report.txt"]
    identity = study.user_attrs.get("rlkit")
    if result["best"] is not None and identity:
        agent = launch.load_agent(identity["algo"])
        space_fixed = identity["space"].get("fixed", {})
        values = merge(merge(identity["base"], nest(space_fixed)), nest(result["best"]["params"]))
        config = build_config(agent.Config, values)
        best = {
            "algo": identity["algo"],
            "env_id": identity["env_id"],
            "seed": identity["seed"],
            **config_dict(config),
        }
        path = out / "best-config.yaml"
        atomic_write_yaml(path, best)
        written.append(path)
        print(f"train it: rlkit train {identity['algo']} {identity['env_id']} --config {path}")
    return written
