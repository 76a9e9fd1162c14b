"""``rlkit.yaml_loader``: every YAML rlkit reads is safe and bounded (alias bombs, deep
nesting, huge files, duplicate keys, self-referring aliases), as one line, in bounded
time and memory; and for the CLI, exit 2 with nothing written."""

import time
import tracemalloc

import pytest
import yaml

from rlkit.config import parse_overrides, read_yaml
from rlkit.errors import BadInput
from rlkit.yaml_loader import MAX_BYTES, MAX_DEPTH, MAX_NODES, load_yaml

BOMB = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["env_kwargs: {x: *a8}"]
)  # 9^9 = 387 million strings once expanded, from 700 bytes


def test_an_alias_bomb_is_refused_in_bounded_time_and_memory():
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(BadInput, match=f"more than {MAX_NODES:,} YAML nodes"):
        load_yaml(BOMB, "bomb.yaml")
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2.0 and peak < 20 * 2**20
    assert len(BOMB) < 1000


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_deep_nesting_is_refused_as_one_line(depth):
    with pytest.raises(BadInput, match=f"nests deeper than {MAX_DEPTH} levels"):
        load_yaml("x: " + "[" * depth + "]" * depth, "deep.yaml")


def test_nesting_within_the_bound_and_aliases_within_the_bound_load_as_safe_load_does():
    text = "a: &a {k: [1, 2, {v: 3}]}\nb: *a\nc: " + "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)
    assert load_yaml(text, "ok.yaml") == yaml.safe_load(text)


def test_a_key_given_twice_is_refused_with_both_lines():
    with pytest.raises(BadInput, match=r"gives the key 'gamma' twice \(lines 1 and 3\)"):
        load_yaml("gamma: 0.9\nn_envs: 2\ngamma: 0.8\n", "dup.yaml")
    with pytest.raises(BadInput, match=r"'k' twice \(lines 2 and 3\)"):
        load_yaml("outer:\n  k: 1\n  k: 2\n", "nested.yaml")


def test_the_merge_key_may_be_overridden():
    text = "base: &b {gamma: 0.9, n_envs: 2}\nrun:\n  <<: *b\n  gamma: 0.99\n"
    assert load_yaml(text, "merge.yaml")["run"] == {"gamma": 0.99, "n_envs": 2}


def test_an_alias_that_refers_to_itself_is_refused():
    with pytest.raises(BadInput, match="refers to itself"):
        load_yaml("a: &a [1, *a]\n", "rec.yaml")


def test_python_tags_are_refused():
    with pytest.raises(BadInput, match="cannot read"):
        load_yaml("x: !!python/object/apply:os.system ['echo hi']\n", "tag.yaml")


def test_a_file_over_the_size_bound_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_BYTES + "\ngamma: 0.9\n")
    with pytest.raises(BadInput, match=f"at most {MAX_BYTES:,}"):
        read_yaml(big)


def test_overrides_have_the_same_bounds():
    levels = ["a0: &a0 [" + ", ".join(["1"] * 10) + "]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 5)]
    with pytest.raises(BadInput, match="more than"):  # 10^5 nodes from 250 characters
        parse_overrides(["env_kwargs={" + ", ".join(levels) + "}"])
    with pytest.raises(BadInput, match="nests deeper"):
        parse_overrides(["x=" + "[" * 40 + "]" * 40])
    with pytest.raises(BadInput, match="characters"):
        parse_overrides(["x=" + "1" * 10_000])
    with pytest.raises(BadInput, match="given twice"):
        parse_overrides(["gamma=0.9", "gamma=0.8"])
    with pytest.raises(BadInput, match="twice"):
        parse_overrides(["env_kwargs={a: 1, a: 2}"])
    assert parse_overrides(["env_kwargs.map_name=4x4", "note=a: b"]) == {
        "env_kwargs": {"map_name": "4x4"},
        "note": "a: b",  # not YAML as a whole: kept as text
    }


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("bomb", BOMB, "YAML nodes"),
        ("deep", "env_kwargs: {x: " + "[" * 3000 + "]" * 3000 + "}", "nests deeper"),
        ("dup", "gamma: 0.9\ngamma: 0.8\n", "twice"),
        ("rec", "env_kwargs: &a {x: *a}\n", "refers to itself"),
    ],
)
def test_the_cli_refuses_each_as_one_line_and_writes_nothing(cli, tmp_path, name, text, message):
    (tmp_path / f"{name}.yaml").write_text(text)
    for argv in (
        ["train", "ppo", "CartPole-v1", "--config", f"{name}.yaml"],
        ["sweep", "ppo", "CartPole-v1", "--space", f"{name}.yaml"],
    ):
        code, out, err = cli(*argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.yaml"]
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(text)  # a run dir's config, on --resume
    code, _, err = cli("train", "--resume", "run")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
