"""``rlkit sweep``: trials as run dirs, pruning, parallel workers, dead workers, --report,
the best config, and bad spaces refused before anything starts."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import optuna
import pytest
import yaml

from rlkit.agents import q_learning

ROOT = Path(__file__).resolve().parents[2]
STUDY = "q-learning-FrozenLake-v1"
SPACE = """
learning_rate: {type: float, low: 0.05, high: 0.9, log: true}
exploration_fraction: {type: float, low: 0.1, high: 0.6}
env_kwargs: {is_slippery: true}
total_steps: 3000
eval_interval: 1000
eval_episodes: 10
checkpoint_interval: 0
"""


def load(storage: str, name: str = STUDY) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=storage)


def real(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The trials that ran (not the ones a worker created over the budget and never ran)."""
    return [t for t in study.trials if not t.user_attrs.get("skipped")]


def sweep_cmd(tmp_path: Path, *extra: str, space: str = SPACE) -> list[str]:
    (tmp_path / "space.yaml").write_text(space)
    return [
        sys.executable,
        "-m",
        "rlkit.cli.main",
        "sweep",
        "q-learning",
        "FrozenLake-v1",
        "--space",
        str(tmp_path / "space.yaml"),
        "--wandb",
        "disabled",
        "--quiet",
        *extra,
    ]


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def test_trials_are_run_dirs_and_the_report_gives_a_config_that_reproduces_the_best(cli, tmp_path):
    (tmp_path / "space.yaml").write_text(SPACE)
    code, out, err = cli(
        "sweep",
        "q-learning",
        "FrozenLake-v1",
        "--space",
        "space.yaml",
        "--trials",
        "4",
        "--sampler-seed",
        "1",
        "--wandb",
        "disabled",
        "--quiet",
    )
    assert code == 0, err
    storage = f"sqlite:///{tmp_path}/runs/{STUDY}/study.db"  # the default storage
    study = load(storage)
    trials = real(study)
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    for t in trials:
        run = tmp_path / "runs" / STUDY / f"trial-{t.number:04d}"
        assert t.user_attrs["run_dir"] == str(run.resolve())
        config = yaml.safe_load((run / "config.yaml").read_text())
        summary = json.loads((run / "summary.json").read_text())
        assert config["learning_rate"] == t.params["learning_rate"]
        assert config["exploration_fraction"] == t.params["exploration_fraction"]
        assert config["total_steps"] == 3000 and config["seed"] == 0
        assert t.value == summary["eval/auc"]  # the default objective
        assert t.intermediate_values == {
            r["step"]: r["eval/mean_return"]
            for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if "eval/mean_return" in r
        }
        assert f"trial {t.number}: auc {t.value:.6g}" in err
    assert f"best: trial {study.best_trial.number}" in out

    # the same command again: the study already holds 4 trials, nothing new runs
    code, out, err = cli(
        "sweep",
        "q-learning",
        "FrozenLake-v1",
        "--space",
        "space.yaml",
        "--trials",
        "4",
        "--wandb",
        "disabled",
        "--quiet",
    )
    assert code == 0 and len(real(load(storage))) == 4 and "trial 4" not in err
    # a larger budget continues the study
    code, out, err = cli(
        "sweep",
        "q-learning",
        "FrozenLake-v1",
        "--space",
        "space.yaml",
        "--trials",
        "5",
        "--wandb",
        "disabled",
        "--quiet",
    )
    assert code == 0 and [t.number for t in real(load(storage))] == [0, 1, 2, 3, 4]

    code, out, err = cli("sweep", "--report", "--study", STUDY)
    assert code == 0, err
    report_dir = tmp_path / "runs" / STUDY / "report"
    for name in ("history.png", "importance.png", "report.json", "report.txt", "best-config.yaml"):
        assert (report_dir / name).stat().st_size > 0, name
    data = json.loads((report_dir / "report.json").read_text())
    best = load(storage).best_trial
    assert data["best"]["number"] == best.number and data["best"]["value"] == best.value
    assert data["best"]["params"] == best.params
    assert set(data["importances"]) == {"learning_rate", "exploration_fraction"}
    assert abs(sum(data["importances"].values()) - 1.0) < 1e-6
    assert len(data["trials"]) == 5 and f"best: trial {best.number}, value {best.value:.6g}" in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("trial state"))
    table = out.split("wall s", 1)[1].splitlines()[1:6]
    assert [int(line.split()[0]) for line in table] == [0, 1, 2, 3, 4]
    # each parameter's values stand in its column, under its name
    column = header.index("learning_rate")
    for line, t in zip(table, sorted(real(load(storage)), key=lambda t: t.number), strict=True):
        assert line[column:].startswith(f"{t.params['learning_rate']:.4g}")

    # the best config trains with rlkit train --config and reproduces the best trial
    code, out, err = cli(
        "train",
        "q-learning",
        "FrozenLake-v1",
        "--config",
        str(report_dir / "best-config.yaml"),
        "--run-dir",
        "again",
        "--wandb",
        "disabled",
        "--quiet",
    )
    assert code == 0, err
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert again["eval/auc"] == best.value
    config = yaml.safe_load((tmp_path / "again" / "config.yaml").read_text())
    assert config["learning_rate"] == best.params["learning_rate"]


def test_a_trial_logs_to_wandb_in_the_study_group(cli, tmp_path):
    from rlkit.wandb_offline import offline_runs, read_run

    (tmp_path / "space.yaml").write_text(SPACE)
    code, _, err = cli(
        "sweep",
        "q-learning",
        "FrozenLake-v1",
        "--space",
        "space.yaml",
        "--study",
        "lake",
        "--trials",
        "1",
        "--wandb",
        "offline",
        "--quiet",
    )
    assert code == 0, err
    (folder,) = offline_runs(tmp_path / "runs" / "lake" / "trial-0000")
    run = read_run(folder)
    assert run["group"] == "lake" and {"sweep", "lake", "q-learning"} <= set(run["tags"])


def _stub_agent(seen: list[float]) -> types.SimpleNamespace:
    """q-learning's config and env checks with a training loop that only logs: eval return
    = 100 x learning_rate at every eval (the learning is not the point here)."""

    def train(config, run):
        value = 100 * config.learning_rate
        seen.append(config.learning_rate)
        for step in range(1000, config.total_steps + 1, 1000):
            run.logger.log(step, {"eval/mean_return": value, "eval/auc": value * step / 1000})
        return {
            "total_steps": config.total_steps,
            "eval/mean_return": value,
            "eval/auc": value * config.total_steps / 1000,
        }

    return types.SimpleNamespace(
        ALGO="q-learning",
        Config=q_learning.Config,
        FITS=q_learning.FITS,
        check_env=q_learning.check_env,
        train=train,
    )


def test_pruning_stops_the_trials_whose_evals_are_below_the_median(cli, tmp_path, monkeypatch):
    import rlkit.launch

    seen: list[float] = []
    stub = _stub_agent(seen)
    monkeypatch.setattr(rlkit.launch, "load_agent", lambda algo: stub)
    (tmp_path / "space.yaml").write_text(
        "learning_rate: [0.9, 0.1, 0.5, 0.2, 0.8, 0.3, 0.6]\ntotal_steps: 5000\n"
    )
    code, _, err = cli(
        "sweep",
        "q-learning",
        "FrozenLake-v1",
        "--space",
        "space.yaml",
        "--sampler",
        "grid",
        "--sampler-seed",
        "0",
        "--startup-trials",
        "2",
        "--warmup-steps",
        "0",
        "--objective",
        "final",
        "--wandb",
        "disabled",
        "--quiet",
    )
    assert code == 0, err
    trials = sorted(
        real(load(f"sqlite:///{tmp_path}/runs/{STUDY}/study.db")), key=lambda t: t.number
    )
    assert len(trials) == 7 and sorted(seen) == [0.1, 0.2, 0.3, 0.5, 0.6, 0.8, 0.9]
    finished: list[float] = []
    pruned = 0
    for t in trials:
        value = 100 * t.params["learning_rate"]
        run = tmp_path / "runs" / STUDY / f"trial-{t.number:04d}"
        # the median pruner's rule: after 2 finished trials, stop one whose eval is below
        # the median of the finished trials' evals at the same step
        below = len(finished) >= 2 and value < statistics.median(finished)
        if below:
            pruned += 1
            assert t.state == optuna.trial.TrialState.PRUNED, (t.number, value, finished)
            assert t.intermediate_values == {1000: value}  # stopped at its first eval
            assert not (run / "summary.json").exists() and (run / "metrics.jsonl").is_file()
            assert f"trial {t.number}: pruned at step 1,000" in err
        else:
            assert t.state == optuna.trial.TrialState.COMPLETE, (t.number, value, finished)
            assert t.value == value and len(t.intermediate_values) == 5
            finished.append(value)
    assert pruned >= 2 and len(finished) >= 3


def _check_shared_study(storage: str, trials: int, study_dir: Path) -> set[str]:
    study = load(storage, "shared")
    ran = real(study)
    assert sorted(t.number for t in ran) == list(range(trials)), [
        (t.number, t.state) for t in study.trials
    ]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in ran)
    runs = {t.user_attrs["run_dir"] for t in ran}
    assert len(runs) == trials  # no trial ran twice
    assert (
        len({(t.params["learning_rate"], t.params["exploration_fraction"]) for t in ran}) == trials
    )
    for t in ran:
        assert (Path(t.user_attrs["run_dir"]) / "summary.json").is_file()
    for t in study.trials:
        if t.user_attrs.get("skipped"):  # over the budget: failed at once, never trained
            assert t.state == optuna.trial.TrialState.FAIL
            assert not (study_dir / f"trial-{t.number:04d}").exists()
    return {t.user_attrs["worker"] for t in ran}


def test_jobs_2_runs_the_budget_across_two_worker_processes(tmp_path):
    storage = f"sqlite:///{tmp_path}/shared.db"
    cmd = sweep_cmd(
        tmp_path,
        "--study",
        "shared",
        "--storage",
        storage,
        "--dir",
        str(tmp_path / "sw"),
        "--trials",
        "6",
        "--jobs",
        "2",
        "--pruner",
        "none",
    )
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    workers = _check_shared_study(storage, 6, tmp_path / "sw")
    assert len(workers) == 2  # both processes ran trials
    assert "worker 0: trial" in proc.stderr and "worker 1: trial" in proc.stderr
    assert "study shared: 6 complete" in proc.stdout
    assert (tmp_path / "sw" / "logs" / "worker-1.log").is_file()


def test_two_commands_on_one_storage_share_the_study_like_two_machines(tmp_path):
    storage = f"sqlite:///{tmp_path}/shared.db"
    cmd = sweep_cmd(
        tmp_path,
        "--study",
        "shared",
        "--storage",
        storage,
        "--dir",
        str(tmp_path / "sw"),
        "--trials",
        "7",
        "--pruner",
        "none",
    )
    procs = [
        subprocess.Popen(
            cmd,
            cwd=tmp_path,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    workers = _check_shared_study(storage, 7, tmp_path / "sw")
    assert len(workers) == 2


def _start_and_wait_for_trial(cmd: list[str], cwd: Path, metrics: Path) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, cwd=cwd, env=child_env(), stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (metrics.is_file() and metrics.stat().st_size > 0) and time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.2)
    return proc


def test_a_worker_killed_mid_trial_leaves_the_trial_failed_and_a_new_worker_replaces_it(tmp_path):
    storage = f"sqlite:///{tmp_path}/dead.db"
    cmd = sweep_cmd(
        tmp_path,
        "--study",
        "shared",
        "--storage",
        storage,
        "--dir",
        str(tmp_path / "sw"),
        "--trials",
        "1",
        "--heartbeat",
        "1",
        space=SPACE.replace("3000", "5000000"),
    )
    proc = _start_and_wait_for_trial(
        cmd, tmp_path, tmp_path / "sw" / "trial-0000" / "metrics.jsonl"
    )
    assert load(storage, "shared").trials[0].state == optuna.trial.TrialState.RUNNING
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(3)  # past the grace period of two heartbeats
    report = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlkit.cli.main",
            "sweep",
            "--report",
            "--study",
            "shared",
            "--storage",
            storage,
            "--heartbeat",
            "1",
            "--out",
            str(tmp_path / "rep"),
        ],
        cwd=tmp_path,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    (trial,) = load(storage, "shared").trials
    assert trial.state == optuna.trial.TrialState.FAIL
    assert "1 fail" in report.stdout
    # a worker that joins later does not count the failed trial: it runs trial 1 in its place
    proc = _start_and_wait_for_trial(
        cmd, tmp_path, tmp_path / "sw" / "trial-0001" / "metrics.jsonl"
    )
    states = [t.state for t in load(storage, "shared").trials]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.RUNNING]


BAD_SPACES = {
    "unknown field": (
        "lerning_rate: {type: float, low: 0.1, high: 0.5}\n",
        "unknown config field in the space 'lerning_rate'",
    ),
    "low > high": (
        "learning_rate: {type: float, low: 0.9, high: 0.1}\n",
        "low (0.9) must be less than high (0.1)",
    ),
    "wrong type": (
        "eval_episodes: {type: float, low: 1, high: 5}\n",
        "eval_episodes holds an integer",
    ),
    "wrong choice type": (
        "learning_rate: [0.1, fast]\n",
        "learning_rate='fast' makes a bad config",
    ),
    "out of range": ("gamma: {type: float, low: 0.5, high: 2.0}\n", "gamma=2.0 makes a bad config"),
    "python tag": (
        "learning_rate: !!python/object/apply:os.system [touch pwned]\n",
        "cannot read config",
    ),
    "W&B distribution": (
        "method: bayes\nparameters:\n  gamma: {distribution: normal, mu: 0.9, sigma: 0.1}\n",
        "has no Optuna counterpart",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SPACES))
def test_a_bad_space_exits_2_before_any_trial(cli, tmp_path, case):
    text, message = BAD_SPACES[case]
    (tmp_path / "space.yaml").write_text(text)
    code, out, err = cli(
        "sweep", "q-learning", "FrozenLake-v1", "--space", "space.yaml", "--wandb", "disabled"
    )
    assert code == 2
    assert (
        err.startswith("rlkit: error: ") and message in err and len(err.strip().splitlines()) == 1
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["space.yaml"]  # no runs/, no study.db
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["q-learning", "FrozenLake-v1"], "needs --space FILE"),
        (["--space", "space.yaml"], "needs an algorithm and an env id"),
        (
            ["q-learning", "FrozenLake-v1", "--space", "nope.yaml"],
            "config file not found: nope.yaml",
        ),
        (
            ["ppo", "CartPole-v1", "--space", "space.yaml"],
            "unknown config field in the space 'exploration_fraction'",
        ),
        (["value-iteration", "FrozenLake-v1", "--space", "space.yaml"], "exact planning"),
        (["q-learning", "CartPole-v1", "--space", "space.yaml"], "Discrete"),
        (
            ["q-learning", "FrozenLake-v1", "--space", "space.yaml", "--trials", "0"],
            "bad value --trials 0",
        ),
        (
            ["q-learning", "FrozenLake-v1", "--space", "space.yaml", "--jobs", "0"],
            "bad value --jobs 0",
        ),
        (
            ["q-learning", "FrozenLake-v1", "--space", "space.yaml", "--study", "../x"],
            "cannot be used in a file name",
        ),
        (
            ["q-learning", "FrozenLake-v1", "--space", "space.yaml", "--storage", "redis://x"],
            "bad --storage",
        ),
        (["q-learning", "FrozenLake-v1", "--space", "space.yaml", "gamma=7"], "bad value gamma=7"),
        (
            ["q-learning", "FrozenLake-v1", "--space", "space.yaml", "total_steps=9"],
            "total_steps is set both by the space",
        ),
        (
            [
                "q-learning",
                "FrozenLake-v1",
                "--space",
                "space.yaml",
                "env_kwargs.is_slippery=false",
            ],
            "env_kwargs is set both by the space",
        ),
        (["--report"], "--report needs --study NAME"),
        (["--report", "--study", "nothing"], "no study storage at runs/nothing/study.db"),
    ],
)
def test_bad_sweep_commands_exit_2_and_write_nothing(cli, tmp_path, argv, message):
    (tmp_path / "space.yaml").write_text(SPACE)
    code, out, err = cli("sweep", *argv, "--wandb", "disabled")
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["space.yaml"]


def test_a_study_that_holds_another_sweep_is_refused(cli, tmp_path):
    (tmp_path / "space.yaml").write_text(SPACE)
    assert (
        cli(
            "sweep",
            "q-learning",
            "FrozenLake-v1",
            "--space",
            "space.yaml",
            "--trials",
            "1",
            "--wandb",
            "disabled",
            "--quiet",
        )[0]
        == 0
    )
    db = tmp_path / "runs" / STUDY / "study.db"
    before = db.read_bytes()
    (tmp_path / "other.yaml").write_text(SPACE.replace("high: 0.6", "high: 0.7"))
    code, _, err = cli(
        "sweep", "q-learning", "FrozenLake-v1", "--space", "other.yaml", "--wandb", "disabled"
    )
    assert (
        code == 2 and "holds another sweep (space differs" in err and "use another --study" in err
    )
    code, _, err = cli(
        "sweep",
        "q-learning",
        "FrozenLake-v1",
        "--space",
        "space.yaml",
        "gamma=0.9",
        "--wandb",
        "disabled",
    )
    assert code == 2 and "base differs" in err
    assert db.read_bytes() == before
    code, _, err = cli("sweep", "--report", "--study", "other", "--storage", f"sqlite:///{db}")
    assert code == 2 and f"no study 'other' in sqlite:///{db}; it holds: {STUDY}" in err


def test_wandb_sweep_file_runs_on_optuna(cli, tmp_path):
    (tmp_path / "sweep.yaml").write_text(
        "program: train.py\nmethod: grid\nmetric: {name: eval/mean_return, goal: maximize}\n"
        "parameters:\n  learning_rate: {values: [0.2, 0.8]}\n  exploration_fraction: {value: 0.3}\n"
        "  total_steps: {value: 2000}\n  eval_interval: {value: 1000}\n"
    )
    code, _, err = cli(
        "sweep",
        "q-learning",
        "FrozenLake-v1",
        "--space",
        "sweep.yaml",
        "--wandb",
        "disabled",
        "--quiet",
    )
    assert code == 0, err
    trials = real(load(f"sqlite:///{tmp_path}/runs/{STUDY}/study.db"))
    assert sorted(t.params["learning_rate"] for t in trials) == [0.2, 0.8]  # the grid, once each
    for t in trials:
        run = Path(t.user_attrs["run_dir"])
        config = yaml.safe_load((run / "config.yaml").read_text())
        assert config["exploration_fraction"] == 0.3 and config["total_steps"] == 2000
        # the W&B metric eval/mean_return is the final eval mean
        assert t.value == json.loads((run / "summary.json").read_text())["eval/mean_return"]


@pytest.mark.parametrize("name", ["ppo-CartPole-v1.yaml", "ppo-CartPole-v1.wandb.yaml"])
def test_the_example_spaces_are_valid_for_their_config(name):
    from rlkit.agents import ppo
    from rlkit.config import config_dict, load_config
    from rlkit.sweep import check_space, read_space

    space = read_space(ROOT / "examples" / "sweeps" / name)
    config, _ = load_config(ppo.Config, ROOT / "configs" / "ppo" / "CartPole-v1.yaml")
    assert check_space(space, ppo.Config, config_dict(config)) == []  # no bound clashes either
    assert len(space.params) >= 4 and space.fixed["total_steps"] == 50000


def test_trials_that_draw_a_clashing_value_fail_and_others_fill_the_budget(cli, tmp_path):
    # n_steps=16 x 8 envs is smaller than the config's batch_size 256: those trials fail
    (tmp_path / "space.yaml").write_text(
        "n_steps: [16, 32]\nlearning_rate: {type: float, low: 1.0e-4, high: 1.0e-3}\n"
        "total_steps: 1024\neval_interval: 0\neval_episodes: 2\ncheckpoint_interval: 0\n"
    )
    code, _, err = cli(
        "sweep",
        "ppo",
        "CartPole-v1",
        "--space",
        "space.yaml",
        "--trials",
        "2",
        "--sampler",
        "random",
        "--sampler-seed",
        "1",
        "--pruner",
        "none",
        "--wandb",
        "disabled",
        "--quiet",
    )
    assert code == 0, err
    assert (
        "warning: n_steps=16 with the base config" in err and "trials that draw it will fail" in err
    )
    trials = load(f"sqlite:///{tmp_path}/runs/ppo-CartPole-v1/study.db", "ppo-CartPole-v1").trials
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 2 and all(t.params["n_steps"] == 32 for t in complete)
    assert failed and all(t.params["n_steps"] == 16 for t in failed)
    for t in failed:
        assert "batch_size" in t.user_attrs["error"]
        assert f"trial {t.number}: FAILED: bad value batch_size=256" in err
    assert "Traceback" not in err


def test_an_unreachable_database_exits_1_without_showing_the_password(cli, tmp_path):
    (tmp_path / "space.yaml").write_text(SPACE)
    url = "postgresql://rlkit:s3cret@127.0.0.1:1/rlkit"  # nothing listens on port 1
    code, _, err = cli(
        "sweep", "q-learning", "FrozenLake-v1", "--space", "space.yaml", "--storage", url
    )
    assert (
        code == 1
        and "cannot open the study storage" in err
        and "rlkit:***@127.0.0.1:1/rlkit" in err
    )
    assert "s3cret" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["space.yaml"]
