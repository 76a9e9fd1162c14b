"""Search spaces (rl-zoo style and W&B sweep files) and the pruning listener."""

from __future__ import annotations

import math
import textwrap

import optuna
import pytest

from rlkit.agents import ppo, q_learning
from rlkit.config import build_config, config_dict, merge
from rlkit.errors import BadInput
from rlkit.logging import Logger
from rlkit.sweep import (
    Param,
    TrialReporter,
    check_space,
    make_pruner,
    make_sampler,
    nest,
    read_space,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

EVERY_KIND = """
learning_rate: {type: float, low: 1.0e-5, high: 1.0e-2, log: true}
gae_lambda: {type: float, low: 0.8, high: 1.0}
clip_range: {type: float, low: 0.1, high: 0.4, step: 0.1}
n_epochs: {type: int, low: 1, high: 20}
n_steps: {type: int, low: 16, high: 256, log: true}
eval_episodes: {type: int, low: 5, high: 20, step: 5}
net_arch: {type: categorical, choices: [[64, 64], [256, 256], [32]]}
activation: [tanh, relu]
normalize_advantage: [true, false]
env_kwargs.max_episode_steps: {type: int, low: 100, high: 500}
total_steps: 5000
n_envs: 16
batch_size: 16
"""


def write(tmp_path, text, name="space.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_every_kind_round_trips_to_configs(tmp_path):
    space = read_space(write(tmp_path, EVERY_KIND))
    kinds = {p.name: p for p in space.params}
    assert kinds["learning_rate"] == Param("learning_rate", "float", 1e-5, 1e-2, log=True)
    assert kinds["clip_range"].step == 0.1 and kinds["n_steps"].log
    assert kinds["eval_episodes"] == Param("eval_episodes", "int", 5, 20, step=5)
    assert kinds["net_arch"].choices == ([64, 64], [256, 256], [32])
    assert kinds["activation"].kind == "categorical"
    assert space.fixed == {"total_steps": 5000, "n_envs": 16, "batch_size": 16}
    base = config_dict(ppo.Config())
    assert check_space(space, ppo.Config, base) == []
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen_arch = set()
    for _ in range(30):
        trial = study.ask()
        drawn = space.suggest(trial)
        config = build_config(ppo.Config, merge(base, nest(drawn)))
        # every drawn value lands in the config, with the field's own type
        assert (
            config.learning_rate == drawn["learning_rate"] and 1e-5 <= config.learning_rate <= 1e-2
        )
        assert 0.8 <= config.gae_lambda <= 1.0
        assert any(math.isclose(config.clip_range, v) for v in (0.1, 0.2, 0.3, 0.4))
        assert isinstance(config.n_epochs, int) and 1 <= config.n_epochs <= 20
        assert 16 <= config.n_steps <= 256 and config.eval_episodes in (5, 10, 15, 20)
        assert config.net_arch in ((64, 64), (256, 256), (32,))
        assert config.activation in ("tanh", "relu") and isinstance(
            config.normalize_advantage, bool
        )
        assert 100 <= config.env_kwargs["max_episode_steps"] <= 500
        assert (config.total_steps, config.n_envs, config.batch_size) == (5000, 16, 16)
        seen_arch.add(config.net_arch)
        # Optuna keeps list choices as JSON text; the trial's params decode back to the same draw
        assert trial.params["net_arch"] in ("[64, 64]", "[256, 256]", "[32]")
        study.tell(trial, 0.0)
    assert len(seen_arch) == 3


def test_wandb_sweep_file_becomes_the_same_space(tmp_path):
    path = write(
        tmp_path,
        """
        program: train.py
        method: bayes
        metric: {name: eval/mean_return, goal: maximize}
        early_terminate: {type: hyperband, min_iter: 3}
        run_cap: 12
        parameters:
          learning_rate: {distribution: log_uniform_values, min: 1.0e-5, max: 1.0e-2}
          ent_coef: {distribution: log_uniform, min: -9.0, max: -4.0}
          gae_lambda: {min: 0.8, max: 1.0}
          n_epochs: {min: 1, max: 20}
          clip_range: {distribution: q_uniform, min: 0.1, max: 0.4, q: 0.1}
          batch_size: {values: [64, 128]}
          gamma: {value: 0.99}
          env_kwargs:
            parameters:
              max_episode_steps: {distribution: int_uniform, min: 100, max: 500}
        """,
    )
    space = read_space(path)
    params = {p.name: p for p in space.params}
    assert params["learning_rate"] == Param("learning_rate", "float", 1e-5, 1e-2, log=True)
    # W&B's log_uniform takes natural logs of the bounds
    assert math.isclose(params["ent_coef"].low, math.exp(-9)) and params["ent_coef"].log
    assert params["gae_lambda"].kind == "float" and params["n_epochs"].kind == "int"
    assert params["clip_range"].step == 0.1 and params["batch_size"].choices == (64, 128)
    assert params["env_kwargs.max_episode_steps"] == Param(
        "env_kwargs.max_episode_steps", "int", 100, 500
    )
    assert space.fixed == {"gamma": 0.99}
    assert (space.sampler, space.objective, space.pruner, space.trials, space.source) == (
        "tpe",
        "final",
        "hyperband",
        12,
        "wandb",
    )
    check_space(space, ppo.Config, config_dict(ppo.Config()))


def test_wandb_methods_map_to_samplers(tmp_path):
    grid = read_space(
        write(
            tmp_path,
            """
        method: grid
        metric: {name: eval/auc}
        parameters:
          learning_rate: {values: [0.1, 0.5]}
          exploration_fraction: {values: [0.2, 0.4, 0.6]}
        """,
        )
    )
    assert grid.sampler == "grid" and grid.objective == "auc"
    assert grid.grid() == {"learning_rate": [0.1, 0.5], "exploration_fraction": [0.2, 0.4, 0.6]}
    sampler = make_sampler("grid", grid, seed=0)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    drawn = set()

    def objective(trial):
        drawn.add(tuple(sorted(grid.suggest(trial).items())))
        return 1.0

    study.optimize(objective, n_trials=10)  # the grid sampler stops the study after 6
    assert len(drawn) == 6 and len(study.trials) == 6  # a grid visits every point once
    random = read_space(
        write(tmp_path, "method: random\nparameters:\n  gamma: {min: 0.9, max: 0.99}\n")
    )
    assert isinstance(make_sampler(random.sampler, random, 0), optuna.samplers.RandomSampler)
    tpe = make_sampler("tpe", random, 0, startup_trials=3)
    assert isinstance(tpe, optuna.samplers.TPESampler) and tpe._n_startup_trials == 3


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "lerning_rate: {type: float, low: 0.1, high: 0.5}",
            "unknown config field in the space 'lerning_rate'; did you mean 'learning_rate'",
        ),
        (
            "learning_rate: {type: float, low: 0.5, high: 0.1}",
            "low (0.5) must be less than high (0.1)",
        ),
        ("learning_rate: {type: float, low: 0, high: 0.1, log: true}", "a log scale needs low > 0"),
        ("gamma: {type: float, low: 0.9, high: 1.5}", "gamma=1.5 makes a bad config"),
        ("learning_rate: {type: float, low: a, high: 0.5}", "low must be a finite number"),
        (
            "learning_rate: {type: categorical, choices: [0.1, fast]}",
            "learning_rate='fast' makes a bad config",
        ),
        ("learning_rate: {type: categorical, choices: []}", "choices must be a non-empty list"),
        ("learning_rate: {type: categorical, choices: [0.1, 0.1]}", "choices repeat a value"),
        ("learning_rate: {type: normal, low: 0.1, high: 0.5}", "unknown type 'normal'"),
        ("learning_rate: {type: float, high: 0.5}", "a float parameter needs low"),
        ("learning_rate: {type: float, low: 0.1, high: 0.5, scale: 2}", "unknown key 'scale'"),
        (
            "learning_rate: {type: float, low: 0.1, high: 0.5, log: true, step: 0.1}",
            "log: true with a step",
        ),
        ("gamma: 0.99", "fixes every field"),
        ("learning_rate: !!python/object/apply:os.system [touch x]", "cannot read config"),
        ("total_steps: -5\nlearning_rate: [0.1, 0.5]", "fixed values make a bad config"),
        (
            "method: bayes\nparameters:\n  learning_rate: {distribution: normal, mu: 0, sigma: 1}",
            "distribution 'normal' has no Optuna counterpart",
        ),
        (
            "method: bayes\nparameters:\n  learning_rate: {values: [0.1, 0.5], probabilities: [0.5, 0.5]}",
            "probabilities",
        ),
        (
            "method: hyperopt\nparameters:\n  learning_rate: {values: [0.1, 0.5]}",
            "method must be one of",
        ),
        (
            "method: bayes\nmetric: {name: loss}\nparameters:\n  learning_rate: {values: [0.1]}",
            "metric.name must be one of",
        ),
        ("method: grid\nparameters:\n  learning_rate: {min: 0.1, max: 0.5}", None),
    ],
)
def test_bad_spaces_are_refused_with_their_reason(tmp_path, text, message):
    path = write(tmp_path, text + "\n")
    if message is None:  # a grid over a continuous range
        with pytest.raises(BadInput, match="grid search needs a list of values for learning_rate"):
            read_space(path).grid()
        return
    with pytest.raises(BadInput) as e:
        space = read_space(path)
        check_space(space, q_learning.Config, config_dict(q_learning.Config()))
    assert message in str(e.value)


def test_a_bound_that_clashes_with_another_field_is_a_warning(tmp_path):
    # n_steps=16 with the default batch_size 64 fails, n_steps=256 does not: trials may differ
    space = read_space(write(tmp_path, "n_steps: {type: int, low: 16, high: 256}\n"))
    clashes = check_space(space, ppo.Config, config_dict(ppo.Config()))
    assert len(clashes) == 1 and clashes[0].startswith("n_steps=16 with the base config")
    assert "batch_size=64" in clashes[0]


def test_wrong_kind_for_a_field_type_is_refused(tmp_path):
    base = config_dict(ppo.Config())
    cases = {
        "n_epochs: {type: float, low: 1, high: 10}": "n_epochs holds an integer; a float range cannot set it (use type: int)",
        "activation: {type: float, low: 0.1, high: 0.5}": "activation holds a string; a float range",
        "optimizer: {type: int, low: 1, high: 3}": "optimizer holds one of sgd, momentum, adam, rmsprop, lion; an int range cannot set it (use type: categorical",
        "n_epochs: {type: int, low: 1.5, high: 10}": "an int parameter needs integer low",
        "env_kwargs.x: {type: int, low: 1, high: 3}\ngamma.x: [1, 2]": "gamma is not a mapping field",
    }
    for text, message in cases.items():
        with pytest.raises(BadInput) as e:
            check_space(read_space(write(tmp_path, text + "\n")), ppo.Config, base)
        assert message in str(e.value)
    # a float field takes an int range (ints are numbers); a float|str field takes a float range
    check_space(
        read_space(write(tmp_path, "ent_coef: {type: int, low: 0, high: 1}\n")), ppo.Config, base
    )
    check_space(
        read_space(write(tmp_path, "learning_rate: {type: float, low: 0.001, high: 0.1}\n")),
        ppo.Config,
        base,
    )


def _pruned_study(startup: int = 2) -> optuna.Study:
    return optuna.create_study(
        direction="maximize", pruner=make_pruner("median", startup, 0, 100, 500)
    )


def _stub_run(tmp_path, trial, evals: list[float], name: str) -> list[int]:
    """A stand-in for training: log ``evals`` every 100 steps through a Logger with the
    sweep's reporter; returns the steps that were logged before it stopped."""
    logged = []
    logger = Logger(
        tmp_path / name,
        total_steps=500,
        wandb_mode="disabled",
        console=None,
        tensorboard=False,
        listeners=[TrialReporter(trial)],
    )
    try:
        for i, value in enumerate(evals, start=1):
            logger.log(100 * i, {"train/loss": 1.0})  # rows without an eval are not reported
            logger.log(100 * i, {"eval/mean_return": value})
            logged.append(100 * i)
    finally:
        logger.close()
    return logged


def test_the_pruner_stops_a_trial_whose_evals_are_worse(tmp_path):
    study = _pruned_study(startup=2)
    good = [[10, 20, 30, 40, 50], [12, 22, 32, 42, 52]]
    for i, evals in enumerate(good):
        trial = study.ask()
        assert _stub_run(tmp_path, trial, evals, f"good{i}") == [100, 200, 300, 400, 500]
        study.tell(trial, sum(evals))
    # worse from its first eval on: stopped right there, recorded as pruned
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned, match="pruned at step 100"):
        _stub_run(tmp_path, trial, [1, 2, 3, 4, 5], "bad")
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert study.trials[-1].intermediate_values == {100: 1.0}
    # as good as the median at every step: runs to the end
    trial = study.ask()
    assert _stub_run(tmp_path, trial, [11, 21, 31, 41, 51], "median") == [100, 200, 300, 400, 500]
    study.tell(trial, 155)
    # starts well, then falls behind: stopped at the first eval below the others' median
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned, match="pruned at step 400"):
        _stub_run(tmp_path, trial, [35, 35, 35, 35, 35], "late")
    # the row that triggered the pruning was written before the run stopped
    rows = (tmp_path / "late" / "metrics.jsonl").read_text().splitlines()
    assert sum('"eval/mean_return"' in r for r in rows) == 4


def test_no_pruning_before_the_startup_trials_or_the_warmup(tmp_path):
    study = _pruned_study(startup=2)
    trial = study.ask()
    _stub_run(tmp_path, trial, [50, 50, 50], "first")
    study.tell(trial, 150)
    trial = study.ask()  # one finished trial < 2 startup trials: never pruned
    assert _stub_run(tmp_path, trial, [1, 1, 1], "second") == [100, 200, 300]
    study.tell(trial, 3)
    warm = optuna.create_study(direction="maximize", pruner=make_pruner("median", 1, 250, 100, 500))
    for t in study.trials:
        warm.add_trial(t)
    trial = warm.ask()  # below the median from the start, but pruning waits for step 250
    with pytest.raises(optuna.TrialPruned, match="pruned at step 300"):
        _stub_run(tmp_path, trial, [0, 0, 0], "warm")


def test_successive_halving_keeps_the_best_quarter_at_each_rung(tmp_path):
    study = optuna.create_study(direction="maximize", pruner=make_pruner("halving", 5, 0, 100, 500))
    outcome = []
    for i, value in enumerate([10, 20, 30, 40, 5, 50, 1]):
        trial = study.ask()
        try:
            _stub_run(tmp_path, trial, [value] * 5, f"t{i}")
            study.tell(trial, 5 * value)
            outcome.append("complete")
        except optuna.TrialPruned as e:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            outcome.append(str(e))
    # a rising series is the best of its rung each time; 5 and 1 are not in the top quarter
    # of the trials that reached step 100 (min_resource = the eval interval, 100)
    assert outcome == ["complete"] * 4 + [
        "pruned at step 100: eval/mean_return 5",
        "complete",
        "pruned at step 100: eval/mean_return 1",
    ]


def test_pruner_kinds():
    assert isinstance(
        make_pruner("halving", 5, 0, 100, 1000), optuna.pruners.SuccessiveHalvingPruner
    )
    assert isinstance(make_pruner("hyperband", 5, 0, 100, 1000), optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner("none", 5, 0, 100, 1000), optuna.pruners.NopPruner)
    with pytest.raises(BadInput, match="unknown pruner"):
        make_pruner("asha", 5, 0, 100, 1000)
