import dataclasses
import importlib
from typing import Literal

import pytest

from rlkit.agents import ALGORITHMS
from rlkit.config import (
    RunFields,
    coerce,
    config_dict,
    field_docs,
    load_config,
    parse_overrides,
)
from rlkit.errors import BadInput


@dataclasses.dataclass(frozen=True, kw_only=True)
class Toy(RunFields):
    """A config for these tests."""

    learning_rate: float = 1e-3
    """Step size."""
    batch_size: int = 32
    """Minibatch size."""
    method: Literal["a", "b"] = "a"
    """One of two."""
    schedule: float | str = 0.5
    """A number or a schedule string."""


def test_defaults_without_file():
    config, run = load_config(Toy)
    assert config == Toy()
    assert run == {}


def test_yaml_and_overrides_with_coercion(tmp_path):
    path = tmp_path / "c.yaml"
    # PyYAML reads 1e-4 (no dot) as a string; it must still become a float
    path.write_text("learning_rate: 1e-4\nbatch_size: 64\nseed: 7\nenv_kwargs:\n  a: 1\n")
    config, run = load_config(
        Toy, path, ["batch_size=128", "deterministic=false", "env_kwargs.b=true", "total_steps=2e4"]
    )
    assert config.learning_rate == pytest.approx(1e-4) and isinstance(config.learning_rate, float)
    assert config.batch_size == 128
    assert config.deterministic is False
    assert config.env_kwargs == {"a": 1, "b": True}
    assert config.total_steps == 20000 and isinstance(config.total_steps, int)
    assert run == {"seed": 7}


def test_unknown_key_names_close_match():
    with pytest.raises(
        BadInput, match=r"unknown config key 'learning_rat'; did you mean 'learning_rate'"
    ):
        load_config(Toy, None, ["learning_rat=0.1"])


def test_wrong_type_names_key_and_value():
    with pytest.raises(BadInput, match=r"batch_size='big'; expected an integer"):
        load_config(Toy, None, ["batch_size=big"])
    with pytest.raises(BadInput, match=r"batch_size=1.5"):
        load_config(Toy, None, ["batch_size=1.5"])
    with pytest.raises(BadInput, match=r"method='c'; allowed: a, b"):
        load_config(Toy, None, ["method=c"])
    with pytest.raises(BadInput, match=r"learning_rate='nan'; expected a finite number"):
        load_config(Toy, None, ["learning_rate=nan"])


def test_validation_in_post_init_names_key():
    with pytest.raises(BadInput, match=r"total_steps=0; allowed: an integer > 0"):
        Toy(total_steps=0)
    with pytest.raises(BadInput, match=r"total_steps=0; allowed: 1 to 1e12"):  # the bound first
        load_config(Toy, None, ["total_steps=0"])


def test_union_keeps_numbers_and_strings():
    assert coerce("schedule", "lin_0.3", float | str) == "lin_0.3"
    assert coerce("schedule", "0.3", float | str) == 0.3


def test_python_tags_are_refused(tmp_path):
    path = tmp_path / "evil.yaml"
    marker = tmp_path / "pwned"
    path.write_text(f"learning_rate: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(BadInput, match="cannot read config"):
        load_config(Toy, path)
    assert not marker.exists()


def test_non_mapping_and_missing_file(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(BadInput, match="must be a mapping"):
        load_config(Toy, path)
    with pytest.raises(BadInput, match="not found"):
        load_config(Toy, tmp_path / "nope.yaml")


def test_bad_override_syntax():
    with pytest.raises(BadInput, match="expected key=value"):
        parse_overrides(["gamma"])


def test_config_is_frozen():
    config = Toy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.batch_size = 1  # type: ignore[misc]


@pytest.mark.parametrize("algo", list(ALGORITHMS))
def test_every_agent_field_has_a_docstring(algo):
    cls = importlib.import_module(ALGORITHMS[algo]).Config
    docs = field_docs(cls)
    missing = [f.name for f in dataclasses.fields(cls) if not docs.get(f.name)]
    assert missing == []
    # round trip: the saved dict loads back into an equal config
    config = cls()
    again, _ = load_config(cls, None, config_dict(config))
    assert again == config


def test_counts_have_bounds_that_help_config_states(cli):
    from rlkit.agents import dqn, ppo
    from rlkit.config import LIMITS, build_config, limit_text

    with pytest.raises(BadInput, match=r"total_steps=1e\+100; allowed: 1 to 1e12"):
        build_config(ppo.Config, {"total_steps": "1e100"})
    with pytest.raises(BadInput, match="buffer_size=20,000,000,000; allowed: 1 to 1e10"):
        build_config(dqn.Config, {"buffer_size": 2 * 10**10})
    assert build_config(ppo.Config, {"n_envs": 4096}).n_envs == 4096  # the bound itself is in
    code, out, _ = cli("train", "ppo", "--help-config")
    assert code == 0 and "total_steps (int, default 100000, 1 to 1e12)" in out
    # every bounded name is a field of some agent's config (no stale entries)
    from rlkit.agents import ALGORITHMS
    from rlkit.launch import load_agent

    fields = {f for a in ALGORITHMS for f in load_agent(a).Config.__dataclass_fields__}
    assert set(LIMITS) <= fields and limit_text("n_envs") == "1 to 4,096"
