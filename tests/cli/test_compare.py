"""``rlkit compare`` on synthetic run directories, against hand-computed numbers."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from rlkit import compare
from rlkit.scores import ATARI_SCORES, atari_game

ROOT = Path(__file__).resolve().parents[2]


def make_run(
    root,
    name,
    implementation,
    seed,
    final,
    curve,
    wall=10.0,
    sps=1000.0,
    finished=True,
    env_id="CartPole-v1",
    algo="ppo",
    options=None,
):
    run = root / name
    run.mkdir(parents=True)
    (run / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "algo": algo,
                "env_id": env_id,
                "seed": seed,
                "implementation": implementation,
                **(options or {}),
            }
        )
    )
    rows = [{"step": step, "time": 0.0, "eval/mean_return": value} for step, value in curve]
    rows.insert(1, {"step": 5, "time": 0.0, "train/loss": 1.0})  # rows without eval are ignored
    (run / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + '{"step": 99, "eval/me'
    )
    if finished:
        summary = {
            "algo": algo,
            "env_id": env_id,
            "seed": seed,
            "eval/mean_return": final,
            "eval/auc": sum(v for _, v in curve),
            "wall_time_s": wall,
            "time/sps": sps,
        }
        (run / "summary.json").write_text(json.dumps(summary))
    return run


@pytest.fixture
def few_reps(monkeypatch):
    """Fewer bootstrap resamples, for tests whose intervals sit on outcomes of probability
    1/16 or more at either end (2,000 resamples put a 2.5% percentile there as surely as
    50,000; the intervals near a 2.5% edge keep the full count)."""
    monkeypatch.setattr(compare, "BOOTSTRAP_REPS", 2_000)


@pytest.fixture
def runs(tmp_path):
    ours = tmp_path / "ours"
    make_run(ours, "s0", "rlkit", 0, 0.0, [(100, 0.0), (200, 0.0)], wall=10, sps=100)
    make_run(ours, "s1", "rlkit", 1, 10.0, [(100, 20.0), (200, 10.0)], wall=30, sps=300)
    make_run(ours, "s2", "rlkit", 2, 99.0, [(100, 1.0)], finished=False)  # unfinished: left out
    theirs = tmp_path / "theirs"
    for seed, final in enumerate([1.0, 2.0, 3.0, 4.0]):
        make_run(theirs, f"s{seed}", "sb3", seed, final, [(150, final)])
    return tmp_path


def test_table_means_intervals_and_iqm(runs):
    paths, skipped = compare.find_runs([runs / "ours", runs / "theirs"])
    assert len(paths) == 6 and len(skipped) == 1 and "s2" in skipped[0]
    groups = compare.group_runs([compare.read_run(p) for p in paths])
    ours, theirs = (compare.summarize(g) for g in groups)
    assert ours["group"] == "rlkit ppo" and theirs["group"] == "SB3 ppo"
    # two seeds, 0 and 10: bootstrap means are 0, 5, 10 with probabilities 1/4, 1/2, 1/4,
    # so the 2.5% and 97.5% percentiles are 0 and 10
    assert (ours["mean"], ours["ci_low"], ours["ci_high"]) == (5.0, 0.0, 10.0)
    assert ours["auc"] == pytest.approx(15.0) and ours["wall_s"] == 20.0 and ours["sps"] == 200.0
    # 1, 2, 3, 4: IQM = mean(2, 3) = 2.5; the bootstrap mean's sum of 4 draws is <= 5 with
    # probability 5/256 (< 2.5%) and <= 6 with 15/256, so the interval is [6/4, 14/4]
    assert theirs["mean"] == 2.5 and theirs["iqm"] == 2.5
    assert (theirs["ci_low"], theirs["ci_high"]) == (1.5, 3.5)


def test_curve_interpolates_each_run_and_bands_across_seeds(runs):
    paths, _ = compare.find_runs([runs / "ours"])
    (group,) = compare.group_runs([compare.read_run(p) for p in paths])
    steps, mean, low, high = compare.curve(group)
    assert steps.tolist() == [100.0, 200.0]
    assert mean.tolist() == [10.0, 5.0]
    assert (low.tolist(), high.tolist()) == ([0.0, 0.0], [20.0, 10.0])


def test_cli_prints_the_table_and_writes_the_figure(cli, runs):
    code, out, err = cli("compare", "ours", "theirs", "--out", "cmp.png", "--json", "cmp.json")
    assert code == 0, err
    assert (
        "rlkit ppo" in out and "SB3 ppo" in out and "5 [0, 10]" in out and "2.5 [1.5, 3.5]" in out
    )
    assert "P(rlkit > SB3) [95% CI]" in out and "0.50 [0.00, 1.00]" in out
    assert (runs / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote cmp.json" in out and "wrote cmp.png" in out
    rows = json.loads((runs / "cmp.json").read_text())
    assert [r["seeds"] for r in rows] == [[0, 1], [0, 1, 2, 3], [2, 4]]
    assert rows[-1]["comparison"] == "probability of improvement" and rows[-1]["p"] == 0.5


def test_one_seed_has_no_iqm(cli, tmp_path):
    make_run(tmp_path, "one", "rlkit", 0, 7.0, [(10, 7.0)])
    code, out, err = cli("compare", "one")
    assert code == 0, err
    row = out.splitlines()[2].split()
    assert row[:6] == ["rlkit", "ppo", "CartPole-v1", "1", "7", "[7,"] and row[7] == "-"


@pytest.mark.parametrize(
    "argv,message",
    [
        (["compare", "missing"], "no such run directory"),
        (["compare", "empty"], "holds no run directories"),
        (["compare", "empty", "--out", "x.txt"], ".png"),
    ],
)
def test_bad_input(cli, tmp_path, argv, message):
    (tmp_path / "empty").mkdir()
    code, _, err = cli(*argv)
    assert code == 2 and message in err
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]


def test_real_runs_of_ours_and_the_baseline(cli, tmp_path):
    for command in ("train", "baseline"):
        code, _, err = cli(
            command,
            "ppo",
            "CartPole-v1",
            "total_steps=512",
            "eval_interval=256",
            "eval_episodes=2",
            "--wandb",
            "disabled",
            "--run-dir",
            f"{command}/s0",
        )
        assert code == 0, err
    code, out, err = cli("compare", "train", "baseline", "--out", "c.png")
    assert code == 0, err
    summaries = [
        json.loads((tmp_path / c / "s0" / "summary.json").read_text())
        for c in ("train", "baseline")
    ]
    for label, summary in zip(("rlkit ppo", "SB3 ppo"), summaries, strict=True):
        line = next(x for x in out.splitlines() if x.startswith(label))
        assert f"{summary['eval/mean_return']:.4g} [" in line
    assert np.isfinite(summaries[1]["eval/auc"])
    assert "eval/human_normalized" not in summaries[0]  # CartPole has no human reference
    assert "human-normalized" not in out


def atari_runs(root):
    """DQN runs on three Atari games whose finals normalize to chosen values."""
    normalized = {
        "PongNoFrameskip-v4": [0.0, 1.0],
        "BreakoutNoFrameskip-v4": [2.0, 2.0, 100.0],  # the third seed is beyond the others' 2
        "ALE/SpaceInvaders-v5": [0.1, 0.3],
    }
    for env_id, values in normalized.items():
        random, human = ATARI_SCORES[atari_game(env_id)]
        for seed, value in enumerate(values):
            final = random + value * (human - random)
            name = f"{env_id.replace('/', '-')}-s{seed}"
            make_run(
                root / "dqn", name, "rlkit", seed, final, [(100, final)], env_id=env_id, algo="dqn"
            )
    # one game of the baseline's: a row, but nothing to aggregate
    make_run(
        root / "sb3", "pong", "sb3", 0, 14.6, [(100, 14.6)], env_id="PongNoFrameskip-v4", algo="dqn"
    )
    make_run(root / "cartpole", "s0", "rlkit", 0, 500.0, [(100, 500.0)], algo="dqn")


@pytest.mark.usefixtures("few_reps")
def test_atari_rows_are_human_normalized_and_games_aggregated(tmp_path):
    atari_runs(tmp_path)
    paths, _ = compare.find_runs([tmp_path / "dqn", tmp_path / "sb3", tmp_path / "cartpole"])
    groups = compare.group_runs([compare.read_run(p) for p in paths])
    rows = {(r["implementation"], r["env_id"]): r for r in map(compare.summarize, groups)}
    pong = rows["rlkit", "PongNoFrameskip-v4"]
    # two seeds at 0 and 1: the interval of the mean is [0, 1], normalized as the scores are
    assert (pong["hns_mean"], pong["hns_ci_low"], pong["hns_ci_high"]) == pytest.approx((0.5, 0, 1))
    assert rows["sb3", "PongNoFrameskip-v4"]["hns_mean"] == pytest.approx(1.0)
    assert rows["rlkit", "CartPole-v1"]["hns_mean"] is None
    (entry,) = compare.atari_aggregates(groups)  # the baseline covers one game only
    assert entry["group"] == "rlkit dqn" and entry["aggregate"] == "human-normalized"
    assert entry["seeds_per_game"] == 2 and len(entry["env_ids"]) == 3
    # per-game means 0.5, 2 and 0.2 (Breakout's seed 2 is left out): mean 0.9, median 0.5;
    # IQM of 0, 0.1, 0.3, 1, 2, 2 drops one run from each end: (0.1 + 0.3 + 1 + 2) / 4
    assert entry["mean"] == pytest.approx(0.9)
    assert entry["median"] == pytest.approx(0.5)
    assert entry["iqm"] == pytest.approx(0.85)
    # resampling runs within each game: Pong's and SpaceInvaders' means are each at their
    # lowest (or highest) with probability 1/4, both with 1/16 > 2.5%, so the mean's
    # interval is [(0 + 2 + 0.1) / 3, (1 + 2 + 0.3) / 3]
    assert (entry["mean_low"], entry["mean_high"]) == pytest.approx((0.7, 1.1))
    for name in ("median", "iqm"):
        assert entry[f"{name}_low"] <= entry[name] <= entry[f"{name}_high"]


@pytest.mark.usefixtures("few_reps")
def test_cli_prints_the_normalized_column_and_the_aggregate(cli, tmp_path):
    atari_runs(tmp_path)
    code, out, err = cli("compare", "dqn", "sb3", "--json", "c.json")
    assert code == 0, err
    assert "human-normalized [95% CI]" in out and "0.5 [0, 1]" in out
    assert "human-normalized final eval across Atari games" in out
    line = next(x for x in out.splitlines()[::-1] if x.startswith("rlkit dqn"))
    assert line.split()[2:5] == ["3", "2", "0.9"]  # games, seeds a game, mean
    entries = json.loads((tmp_path / "c.json").read_text())
    # the baseline ran Pong and ours did too: one comparison, then the aggregate
    assert [e.get("comparison") for e in entries][4] == "probability of improvement"
    assert [e.get("aggregate") for e in entries] == [None] * 5 + ["human-normalized"]
    assert entries[-1]["iqm"] == pytest.approx(0.85)


def test_runs_that_evaluated_once_are_drawn_as_visible_points(runs):
    """A short run holds one evaluation: the figure shows it as a marker with an error bar
    across seeds (a line through one point would draw nothing)."""
    paths, _ = compare.find_runs([runs / "theirs"])
    groups = compare.group_runs([compare.read_run(p) for p in paths])
    fig = compare.figure(groups)
    ax = fig.axes[0]
    (line,) = [x for x in ax.get_lines() if x.get_label().startswith("SB3 ppo")]
    assert line.get_marker() == "o" and list(line.get_xdata()) == [150.0]
    assert list(line.get_ydata()) == [2.5]  # the mean of 1, 2, 3, 4
    (bar,) = [c for c in ax.collections if len(c.get_segments()) == 1]
    (segment,) = bar.get_segments()
    low, high = sorted(segment[:, 1])
    assert segment[0, 0] == 150.0 and 1.0 <= low < 2.5 < high <= 4.0


def test_the_interquartile_mean_is_rliables():
    from rliable import metrics

    rng = np.random.default_rng(0)
    for shape in [(1, 1), (2, 1), (3, 1), (4, 1), (5, 3), (7, 2), (10, 26), (3, 57)]:
        scores = rng.normal(size=shape)
        assert compare.interquartile_mean(scores) == pytest.approx(
            metrics.aggregate_iqm(scores), abs=1e-12
        )
    # 1..8: the lowest two and the highest two cut, (3 + 4 + 5 + 6) / 4
    assert compare.interquartile_mean(np.arange(8.0, 0.0, -1.0).reshape(4, 2)) == 4.5


def test_an_atari_panel_has_its_human_normalized_scale(tmp_path):
    atari_runs(tmp_path)
    paths, _ = compare.find_runs([tmp_path / "sb3", tmp_path / "cartpole"])
    fig = compare.figure(compare.group_runs([compare.read_run(p) for p in paths]))
    panels = {ax.get_title(): ax for ax in fig.axes}
    assert set(panels) == {"CartPole-v1", "PongNoFrameskip-v4"}
    assert panels["CartPole-v1"].child_axes == []
    (right,) = panels["PongNoFrameskip-v4"].child_axes
    assert right.get_ylabel() == "human-normalized"
    fig.canvas.draw()  # the right scale's limits are the left's, normalized
    low, high = panels["PongNoFrameskip-v4"].get_ylim()
    assert right.get_ylim() == pytest.approx(((low + 20.7) / 35.3, (high + 20.7) / 35.3))


def test_the_probability_of_improvement_is_rliables():
    from rliable import metrics

    rng = np.random.default_rng(1)
    for runs_x, runs_y, tasks in [(1, 1, 1), (2, 4, 1), (5, 5, 3), (10, 7, 2)]:
        x = rng.integers(0, 4, (runs_x, tasks)).astype(float)  # few values: many ties
        y = rng.integers(0, 4, (runs_y, tasks)).astype(float)
        assert compare.probability_of_improvement(x, y) == pytest.approx(
            metrics.probability_of_improvement(x, y), abs=1e-12
        )
    # 3 above 1 and 2, tied with 3 (half), below 4: (1 + 1 + 0.5 + 0) / 4
    assert compare.probability_of_improvement([[3.0]], [[1.0], [2.0], [3.0], [4.0]]) == 0.625


def test_rlkit_is_compared_with_sb3_run_for_run(runs, tmp_path):
    paths, _ = compare.find_runs([runs / "ours", runs / "theirs"])
    (entry,) = compare.improvements(compare.group_runs([compare.read_run(p) for p in paths]))
    assert (entry["algo"], entry["env_id"], entry["seeds"]) == ("ppo", "CartPole-v1", [2, 4])
    # ours end at 0 and 10, SB3's at 1-4: one of ours below all four, one above, so 0.5;
    # resampling ours gives 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4: the interval [0, 1]
    assert (entry["p"], entry["p_low"], entry["p_high"]) == (0.5, 0.0, 1.0)
    # one side alone: nothing to compare
    paths, _ = compare.find_runs([runs / "ours"])
    assert compare.improvements(compare.group_runs([compare.read_run(p) for p in paths])) == []


@pytest.mark.parametrize(
    "summary,message",
    [
        ('{"eval/mean_return": "abc"}', "eval/mean_return in s0/summary.json must be a number"),
        ('{"eval/mean_return": [1, 2]}', "must be a number, got [1, 2]"),
        ('{"wall_time_s": true}', "wall_time_s in s0/summary.json must be a number"),
        ("[1, 2]", "must hold a JSON object, got list"),
        ("{", "is not valid JSON"),
    ],
)
def test_a_run_dirs_bad_summary_is_one_line(cli, tmp_path, summary, message):
    make_run(tmp_path, "s0", "rlkit", 0, 1.0, [(10, 1.0)])
    (tmp_path / "s0" / "summary.json").write_text(summary)
    code, _, err = cli("compare", "s0")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


@pytest.mark.usefixtures("few_reps")
def test_rlkit_over_sb3_on_two_envs_is_also_averaged_over_them(tmp_path):
    finals = {
        ("rlkit", "PongNoFrameskip-v4"): [1.0, 2.0],
        ("sb3", "PongNoFrameskip-v4"): [0.0, 0.0],
        ("rlkit", "BreakoutNoFrameskip-v4"): [0.0, 0.0],
        ("sb3", "BreakoutNoFrameskip-v4"): [1.0, 1.0, -5.0],  # seed 2: beyond the others' 2
    }
    for (implementation, env_id), values in finals.items():
        for seed, final in enumerate(values):
            name = f"{implementation}-{env_id}-s{seed}"
            make_run(tmp_path, name, implementation, seed, final, [(9, final)], env_id=env_id)
    paths, _ = compare.find_runs([tmp_path])
    entries = {
        e["env_id"]: e
        for e in compare.improvements(compare.group_runs(map(compare.read_run, paths)))
    }
    assert entries["PongNoFrameskip-v4"]["p"] == 1.0
    # ours at 0 and 0 against 1, 1 and -5: each above one of the three
    assert entries["BreakoutNoFrameskip-v4"]["p"] == pytest.approx(1 / 3)
    # over both envs, two runs a side in each (SB3's seed 2 left out): (1 + 0) / 2, and no
    # resampling moves either env's probability
    every = entries["all"]
    assert every["seeds"] == [2, 2] and len(every["env_ids"]) == 2
    assert (every["p"], every["p_low"], every["p_high"]) == (0.5, 0.5, 0.5)
    assert "all 2 envs" in compare.format_improvements(list(entries.values()))


def dqn_run(path, implementation, seed, final, options):
    """A finished dqn run at ``path`` whose one evaluation (step 100) is ``final``."""
    curve = [(100, final)]
    make_run(
        path.parent, path.name, implementation, seed, final, curve, algo="dqn", options=options
    )


RAINBOW = {
    "distributional": "c51",
    "noisy": True,
    "double_q": True,
    "dueling": True,
    "n_step": 3,
    "prioritized": True,
}


def test_dqn_variants_are_named_as_the_papers_name_them():
    from rlkit.config import read_yaml

    assert compare.variant_of({"algo": "ppo", "double_q": True}) == "ppo"
    assert compare.variant_of({"algo": "dqn"}) == "dqn"
    assert compare.variant_of({"algo": "dqn", "n_step": 3}) == "dqn"  # a setting, as in SB3
    assert compare.variant_of({"algo": "dqn", "double_q": True, "dueling": True}) == (
        "dqn+double+dueling"
    )
    assert compare.variant_of({"algo": "dqn", **RAINBOW}) == "rainbow"
    # five of Rainbow's six parts are not Rainbow
    assert compare.variant_of({"algo": "dqn", **RAINBOW, "n_step": 1}) == (
        "c51+double+dueling+per+noisy"
    )
    assert compare.variant_of({"algo": "dqn", **RAINBOW, "distributional": "qr"}) == (
        "qr-dqn+double+dueling+per+noisy"
    )
    assert compare.variant_of({"algo": "dqn", "distributional": "qr"}) == "qr-dqn"
    # the shipped presets, as a run's config.yaml holds their values
    presets = {"": "dqn", ".rainbow": "rainbow", ".qr": "qr-dqn"}
    for env_id in ("CartPole-v1", "PongNoFrameskip-v4", "MinAtar-Breakout-v1"):
        for suffix, variant in presets.items():
            path = ROOT / "configs" / "dqn" / f"{env_id}{suffix}.yaml"
            if path.is_file():
                assert compare.variant_of({"algo": "dqn", **read_yaml(path)}) == variant, path


@pytest.mark.usefixtures("few_reps")
def test_dqn_and_rainbow_runs_are_two_groups_and_qr_dqn_pairs_with_sb3_contribs(cli, tmp_path):
    """The DQN agent's variants on one env are separate groups, and P(rlkit > SB3) pairs
    each rlkit variant only with SB3's runs of the same one (sb3-contrib's QR-DQN)."""
    variants = {
        "dqn": ("rlkit", {}, [10.0, 20.0]),
        "rainbow": ("rlkit", RAINBOW, [30.0, 40.0]),
        "qr": ("rlkit", {"distributional": "qr"}, [50.0, 60.0]),
        "sb3-qr": ("sb3", {"distributional": "qr"}, [5.0, 55.0]),
        "sb3-dqn": ("sb3", {}, [1.0, 2.0]),
    }
    for name, (implementation, options, finals) in variants.items():
        for seed, final in enumerate(finals):
            dqn_run(tmp_path / name / f"s{seed}", implementation, seed, final, options)
    paths, _ = compare.find_runs([tmp_path / name for name in variants])
    groups = compare.group_runs([compare.read_run(p) for p in paths])
    rows = {compare.summarize(g)["group"]: compare.summarize(g) for g in groups}
    assert list(rows) == ["rlkit dqn", "rlkit rainbow", "rlkit qr-dqn", "SB3 qr-dqn", "SB3 dqn"]
    assert [rows[k]["mean"] for k in rows] == [15.0, 35.0, 55.0, 30.0, 1.5]
    assert {r["algo"] for r in rows.values()} == {"dqn"}
    assert rows["rlkit rainbow"]["variant"] == "rainbow"
    found = compare.improvements(groups)
    # dqn: both rlkit runs above both SB3 runs; qr-dqn: 50 > 5, 60 > 5, 60 > 55, 50 < 55
    assert [(e["variant"], e["algo"], e["p"]) for e in found] == [
        ("dqn", "dqn", 1.0),
        ("qr-dqn", "dqn", 0.75),
    ]
    code, out, err = cli("compare", *variants)
    assert code == 0, err
    assert "rlkit rainbow" in out and "SB3 qr-dqn" in out
    assert [line.split()[0] for line in out.splitlines() if " 2, 2 " in line] == ["dqn", "qr-dqn"]


@pytest.mark.usefixtures("few_reps")
def test_runs_are_seeds_of_one_group_only_when_their_configs_agree(cli, tmp_path):
    """A sweep's trials (one seed, different settings) are groups of their own, labelled by
    the keys in which they differ; seeds of one setting (on any device) are one group; and
    each rlkit setting is compared with SB3's runs of the same setting."""
    runs = [
        ("rlkit", 0, {"learning_rate": 0.001, "device": "cpu"}, 10.0),
        ("rlkit", 1, {"learning_rate": 0.001, "device": "cuda"}, 20.0),
        ("rlkit", 0, {"learning_rate": 0.0001, "device": "cpu"}, 30.0),
        ("sb3", 0, {"learning_rate": 0.001}, 15.0),
        ("sb3", 0, {"learning_rate": 0.0001}, 40.0),
    ]
    for n, (implementation, seed, options, final) in enumerate(runs):
        dqn_run(tmp_path / "all" / f"run{n}", implementation, seed, final, options)
    paths, _ = compare.find_runs([tmp_path / "all"])
    groups = compare.group_runs([compare.read_run(p) for p in paths])
    rows = {compare.summarize(g)["group"]: compare.summarize(g) for g in groups}
    assert {k: v["seeds"] for k, v in rows.items()} == {
        "rlkit dqn learning_rate=0.001": [0, 1],
        "rlkit dqn learning_rate=0.0001": [0],
        "SB3 dqn learning_rate=0.001": [0],
        "SB3 dqn learning_rate=0.0001": [0],
    }
    found = {e["differs"]: e["p"] for e in compare.improvements(groups)}
    # 10 and 20 against 15: one above, one below; 30 against 40: below
    assert found == {"learning_rate=0.001": 0.5, "learning_rate=0.0001": 0.0}
    code, out, err = cli("compare", "all")
    assert code == 0, err
    table = [" ".join(line.split()) for line in out.splitlines()]
    assert "dqn learning_rate=0.001 CartPole-v1 2, 1 0.50 [0.00, 1.00]" in table
    assert "dqn learning_rate=0.0001 CartPole-v1 1, 1 0.00 [0.00, 0.00]" in table


def test_a_sweeps_trials_are_told_apart():
    """Trials of one variant that differ in a nested field and a flag name both in their
    labels; a trial of another variant is told apart by its variant alone."""
    trials = [({"size": 4}, False, False), ({"size": 8}, True, False), ({"size": 8}, True, True)]
    runs = []
    for n, (kwargs, flag, double) in enumerate(trials):
        config = {"algo": "dqn", "env_id": "CartPole-v1", "seed": 0, "implementation": "rlkit"}
        config.update(env_kwargs=kwargs, normalize=flag, double_q=double, n_step=3)
        runs.append(
            compare.RunData(
                Path(f"trial-{n}"),
                "rlkit",
                "dqn",
                "CartPole-v1",
                0,
                {"eval/mean_return": 1.0},
                np.array([10.0]),
                np.array([1.0]),
                compare.variant_of(config),
                compare.setting_of(config),
            )
        )
    assert [g.label for g in compare.group_runs(runs)] == [
        'rlkit dqn env_kwargs={"size": 4}, normalize=false',
        'rlkit dqn env_kwargs={"size": 8}, normalize=true',
        "rlkit dqn+double",
    ]


@pytest.mark.usefixtures("few_reps")
def test_settings_with_integer_and_text_keys_are_told_apart(cli, tmp_path):
    """A config's mapping may mix integer and text keys (YAML allows it): two such settings
    are compared, not a traceback."""
    for n, kwargs in enumerate([{0: 1, "a": 2}, {0: 1, "b": 2}]):
        dqn_run(tmp_path / f"run{n}", "rlkit", n, float(n), {"env_kwargs": kwargs})
    code, out, err = cli("compare", "run0", "run1")
    assert code == 0, err
    assert 'rlkit dqn env_kwargs={"0": 1, "a": 2}' in out
    assert 'rlkit dqn env_kwargs={"0": 1, "b": 2}' in out
