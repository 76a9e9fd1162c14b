"""Property-based tests of rlkit's input contract (Hypothesis): config files, ``key=value``
overrides and whole command lines, well-formed and not, for every algorithm.

The contract, for every case: the exit code is 0, 1 or 2; no traceback reaches the user;
exit 2 is one line on stderr and writes nothing; every case takes bounded time and memory.
Training itself is replaced by a stub that returns at once (what is fuzzed is how input is
read and checked, before a run starts; the runs themselves are tested elsewhere). The
default suite tries ``EXAMPLES`` cases of each kind; ``-m slow`` tries ``SLOW_EXAMPLES``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlkit.agents import ALGORITHMS
from rlkit.launch import RunResult, load_agent
from rlkit.resources import resident_bytes

EXAMPLES, SLOW_EXAMPLES = 50, 1000
TIME_BOUND_S = 20.0
MEMORY_BOUND = 512 * 2**20  # resident growth of one case
ENVS = {
    "value-iteration": "FrozenLake-v1",
    "policy-iteration": "FrozenLake-v1",
    "policy-evaluation": "rlkit/GridWorld5x5-v0",
    "q-learning": "FrozenLake-v1",
    "dqn": "CartPole-v1",
    "reinforce": "CartPole-v1",
    "a2c": "CartPole-v1",
    "ppo": "CartPole-v1",
    "recurrent-ppo": "rlkit/CartPoleNoVel-v1",
}
FIELDS = {algo: sorted(load_agent(algo).Config.__dataclass_fields__) for algo in ALGORITHMS}


def stub_execute(spec, **_kwargs):
    """What ``rlkit.launch.execute`` returns, without training."""
    summary = {"total_steps": 1, "wall_time_s": 0.0, "eval/mean_return": 0.0, "eval/auc": 0.0}
    return RunResult(summary, None, None)


def stub_run_jobs(jobs, at_once, on_done=None, **_kwargs):
    """What ``rlkit.seeds.run_jobs`` returns, without starting a process per seed."""
    return [{"seed": job.seed, "code": 0, "log": str(job.log), "summary": None} for job in jobs]


def call(argv: list[str], files: dict[str, str] | None = None) -> tuple[int, str, list[str]]:
    """``rlkit *argv`` in a fresh folder holding ``files``; returns the exit code, stderr and
    the files there afterwards (those it was given excluded). Checks time and memory."""
    from rlkit.cli.main import main

    before = resident_bytes() or 0
    start = time.perf_counter()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            for name, text in (files or {}).items():
                Path(name).parent.mkdir(parents=True, exist_ok=True)
                Path(name).write_text(text)
            err, out = io.StringIO(), io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                try:
                    code = main(argv)
                except SystemExit as e:  # argparse's own exit
                    code = int(e.code or 0) if not isinstance(e.code, str) else 2
            written = sorted(
                str(p) for p in Path(".").rglob("*") if p.is_file() and str(p) not in (files or {})
            )
        finally:
            os.chdir(here)
    assert time.perf_counter() - start < TIME_BOUND_S, argv
    assert (resident_bytes() or 0) - before < MEMORY_BOUND, argv
    return code, err.getvalue(), written


EXIT_CODES: dict[int, int] = {}
"""How many cases ended with each exit code (shown by ``pytest -s``)."""


def check_contract(argv: list[str], files: dict[str, str] | None = None) -> None:
    code, err, written = call(argv, files)
    EXIT_CODES[code] = EXIT_CODES.get(code, 0) + 1
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        lines = [line for line in err.strip().splitlines() if line.strip()]
        assert len(lines) == 1, (argv, err)
        assert written == [], (argv, written)


# ---------------------------------------------------------------- strategies

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["lin_0.001", "lin_x", "adam", "lion", "sync", "async", "bf16", "1e100", "-1"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def config_texts(draw: st.DrawFn) -> tuple[str, str]:
    """An algorithm and the text of a config file for it: a mapping of its own fields
    (and some unknown keys) to any values, or YAML that misbehaves, or any text."""
    algo = draw(st.sampled_from(sorted(ALGORITHMS)))
    keys = st.sampled_from(FIELDS[algo]) | st.text(min_size=1, max_size=10)
    plausible = st.integers(1, 2048) | st.floats(0.001, 0.999) | st.booleans()  # often valid
    mapping = draw(st.dictionaries(keys, plausible | values, max_size=6))
    kind = draw(st.sampled_from(["mapping", "mapping", "aliases", "duplicate", "text"]))
    if kind == "mapping":
        text = yaml.safe_dump(mapping, allow_unicode=True)
    elif kind == "aliases":
        depth = draw(st.integers(1, 9))
        lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, depth)]
        text = "\n".join(lines) + f"\nenv_kwargs: {{x: *a{depth - 1}}}\n"
    elif kind == "duplicate":
        key = draw(st.sampled_from(FIELDS[algo]))
        text = f"{key}: 1\n{yaml.safe_dump(mapping)}{key}: 2\n"
    else:
        text = draw(st.text(max_size=200))
    return algo, text


override_keys = st.one_of(
    st.sampled_from(sorted({f for fields in FIELDS.values() for f in fields})),
    st.sampled_from(["env_kwargs.is_slippery", "env_kwargs.map_name", "env_kwargs.x.y", "gama"]),
    st.text(max_size=12),
)
override_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "0",
            "-5",
            "1e100",
            "nan",
            "inf",
            "[64, 64]",
            "[[[[1]]]]",
            "{a: 1, a: 2}",
            "&a [*a]",
            "true",
            "null",
            "lin_0.5",
            "[" * 40 + "]" * 40,
            "x" * 5000,
        ]
    ),
)
overrides = st.lists(st.builds(lambda k, v: f"{k}={v}", override_keys, override_values), max_size=5)

words = st.sampled_from(
    [
        "train",
        "baseline",
        "eval",
        "render",
        "compare",
        "sync",
        "sweep",
        "--config",
        "c.yaml",
        "--seed",
        "-1",
        "3",
        "--seeds",
        "0-2",
        "0,0",
        "--run-dir",
        "r",
        "--device",
        "cuda",
        "cpu",
        "--wandb",
        "online",
        "disabled",
        "--resume",
        "--episodes",
        "0",
        "--out",
        "x.mp4",
        "--json",
        "--space",
        "--trials",
        "--jobs",
        "--help-config",
        "--best",
        "--stochastic",
        "--dry-run",
        "ppo",
        "dqn",
        "q-learning",
        "value-iteration",
        "policy-evaluation",
        "recurrent-ppo",
        "CartPole-v1",
        "FrozenLake-v1",
        "ALE/Pong-v5",
        "NoSuchEnv-v0",
        "../x",
        "",
        "=",
        "a=b",
    ]
)
argument_lists = st.lists(words | st.text(max_size=10), max_size=8)


# ---------------------------------------------------------------- the properties


def fuzz(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@pytest.fixture(autouse=True)
def no_training(monkeypatch):
    import rlkit.launch

    monkeypatch.setattr(rlkit.launch, "execute", stub_execute)
    monkeypatch.setattr("rlkit.cli.train.execute", stub_execute)
    monkeypatch.setattr("rlkit.seeds.run_jobs", stub_run_jobs)


def config_files(case: tuple[str, str]) -> None:
    algo, text = case
    check_contract(
        ["train", algo, ENVS[algo], "--config", "c.yaml", "--wandb", "disabled"], {"c.yaml": text}
    )


def override_lists(algo: str, items: list[str]) -> None:
    check_contract(["train", algo, ENVS[algo], *items, "--wandb", "disabled"])


SUMMARY_KEYS = ["eval/mean_return", "eval/auc", "wall_time_s", "time/sps", "x"]
"""The summary's keys ``rlkit compare`` computes with, and one it does not."""


@st.composite
def run_dirs(draw: st.DrawFn, name: str = "r") -> dict[str, str]:
    """The files of a finished run dir ``name`` as ``rlkit compare`` reads them, each one
    well-formed (with any values) or any text: ``config.yaml`` (with the DQN options that
    name a variant, and settings that tell groups apart, integer mapping keys among them),
    ``summary.json`` and ``metrics.jsonl``."""

    def text_or(well_formed: str) -> str:
        return draw(st.sampled_from([well_formed, well_formed, draw(st.text(max_size=80))]))

    config = {
        "algo": draw(st.sampled_from(["dqn", "ppo"]) | values),
        "env_id": draw(st.sampled_from(["PongNoFrameskip-v4", "ALE/Breakout-v5"]) | values),
        "seed": draw(st.integers(0, 3) | values),
        "implementation": draw(st.sampled_from(["rlkit", "sb3"]) | values),
    }
    options = {
        "distributional": st.sampled_from(["none", "c51", "qr"]),
        "noisy": st.booleans(),
        "double_q": st.booleans(),
        "n_step": st.integers(1, 3),
        "learning_rate": st.sampled_from([0.001, 0.01]),
        "env_kwargs": st.dictionaries(st.integers(0, 2) | st.text(max_size=3), scalars, max_size=2),
    }
    for key, valid in options.items():
        if draw(st.booleans()):
            config[key] = draw(valid | values)
    numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70)
    summary = draw(st.dictionaries(st.sampled_from(SUMMARY_KEYS), numbers | values, max_size=4))
    rows = draw(
        st.lists(
            st.dictionaries(st.sampled_from(["step", "eval/mean_return", "time"]), values) | values,
            max_size=4,
        )
    )
    return {
        f"{name}/config.yaml": text_or(yaml.safe_dump(config, allow_unicode=True)),
        f"{name}/summary.json": text_or(draw(st.sampled_from([json.dumps(summary), "[1]"]))),
        f"{name}/metrics.jsonl": text_or("".join(json.dumps(row) + "\n" for row in rows)),
    }


def compared_run_dirs(files: dict[str, str]) -> None:
    from unittest import mock

    from rlkit import compare

    targets = sorted({name.split("/")[0] for name in files})
    with mock.patch.object(compare, "BOOTSTRAP_REPS", 200):  # the reading is what is fuzzed
        check_contract(["compare", *targets], files)


two_run_dirs = st.builds(lambda a, b: {**a, **b}, run_dirs("r"), run_dirs("q"))
"""Two run dirs compared together: grouped as seeds or apart, paired with SB3 or not."""


@fuzz(EXAMPLES)
@given(run_dirs() | two_run_dirs)
def test_compared_run_dirs(files):
    compared_run_dirs(files)


@pytest.mark.slow
@fuzz(SLOW_EXAMPLES)
@given(run_dirs() | two_run_dirs)
def test_compared_run_dirs_at_length(files):
    compared_run_dirs(files)


def command_lines(argv: list[str]) -> None:
    check_contract(argv, {"c.yaml": "gamma: 0.9\n"})


@fuzz(EXAMPLES)
@given(config_texts())
def test_config_files(case):
    config_files(case)


@fuzz(EXAMPLES)
@given(st.sampled_from(sorted(ALGORITHMS)), overrides)
def test_overrides(algo, items):
    override_lists(algo, items)


@fuzz(EXAMPLES)
@given(argument_lists)
def test_command_lines(argv):
    command_lines(argv)


@pytest.mark.slow
@fuzz(SLOW_EXAMPLES)
@given(config_texts())
def test_config_files_at_length(case):
    config_files(case)


@pytest.mark.slow
@fuzz(SLOW_EXAMPLES)
@given(st.sampled_from(sorted(ALGORITHMS)), overrides)
def test_overrides_at_length(algo, items):
    override_lists(algo, items)


@pytest.mark.slow
@fuzz(SLOW_EXAMPLES)
@given(argument_lists)
def test_command_lines_at_length(argv):
    command_lines(argv)


def teardown_module() -> None:
    print(f"\nfuzzed cases by exit code: {dict(sorted(EXIT_CODES.items()))}")
