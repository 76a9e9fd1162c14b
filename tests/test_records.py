"""The learning-record scripts' arithmetic (benchmarks/_records.py, benchmarks/minatar.py):
the curves they publish are computed from metrics rows by these."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks._records import SITTING_GAP_S, read_rows, training_wall
from benchmarks.minatar import (
    REVISITING_RAINBOW_POINTS,
    YOUNG_TIAN_DQN,
    Seeds,
    combine,
    curve_of,
    env_id_of,
    legs_table,
    published_at,
    record,
    recorded,
    records_in,
    replaces_another_step,
    run_dir_of,
)


def test_training_wall_leaves_out_the_pauses_between_sittings():
    times = [100.0, 110.0, 125.0, 125.0 + SITTING_GAP_S + 5000.0, 140.0 + SITTING_GAP_S + 5000.0]
    assert training_wall([{"time": t} for t in times]) == [0.0, 10.0, 25.0, 25.0, 40.0]
    assert training_wall([]) == []


def test_rows_are_read_back_and_a_resumed_step_keeps_its_last_value(tmp_path):
    rows = [
        {"step": 10, "time": 1.0, "rollout/ep_return": 1.0},
        {"step": 10, "time": 2.0, "eval/mean_return": 3.0},
        {"step": 20, "time": 3.0, "rollout/ep_return": 2.0},
        {"step": 20, "time": 9.0, "rollout/ep_return": 2.5},  # the resumed process's row
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_rows(tmp_path) == rows
    assert read_rows(tmp_path / "missing") == []
    assert curve_of(rows) == {10: 1.0, 20: 2.5}


def test_seeds_combine_at_the_steps_every_seed_reached():
    curves = [{10: 1.0, 20: 3.0, 30: 5.0}, {10: 3.0, 20: 5.0}, {10: 2.0, 20: 4.0, 40: 9.0}]
    alone = [
        Seeds((i,), [(s, v, v, v) for s, v in c.items()], [i], [1.0]) for i, c in enumerate(curves)
    ]
    both = combine(alone)
    assert both.curve == [(10, 2.0, 1.0, 3.0), (20, 4.0, 3.0, 5.0)]
    assert combine([]).curve == []
    # two seeds already combined, then a third: the mean is weighted by the seed count,
    # and it equals the three combined at once
    pair = combine([alone[2], alone[0]])
    assert pair.seeds == (0, 2) and pair.evals == [0, 2]
    assert combine([alone[1], pair]) == both
    assert both.seeds == (0, 1, 2) and both.evals == [0, 1, 2]


def test_the_published_curve_is_interpolated_inside_its_points_only():
    points = YOUNG_TIAN_DQN["Breakout"]
    assert published_at(points, 1_000_000) == pytest.approx(9.2)
    assert published_at(points, 1_250_000) == pytest.approx((9.2 + 9.4) / 2)
    assert published_at(points, 50_000) is None
    assert published_at(points, 6_000_000) is None
    # Revisiting Rainbow's iterations of 1M steps, each drawn at its middle
    rainbow = REVISITING_RAINBOW_POINTS["rainbow"]["Breakout"]
    assert rainbow[0] == (500_000, 4.58) and rainbow[-1] == (9_500_000, 11.27)
    assert published_at(rainbow, 1_000_000) == pytest.approx((4.58 + 6.81) / 2)


def test_a_run_stopped_at_a_step_saves_and_continues_from_there(tmp_path):
    from benchmarks._records import last_step, train_or_resume

    run_dir = tmp_path / "run"
    start = ["dqn", "CartPole-v1", "--run-dir", str(run_dir), "--wandb", "disabled", "--quiet"]
    start += ["total_steps=20000", "log_interval=500", "learning_starts=500", "eval_interval=0"]

    def until(step):
        return dict(quiet=True, threads=1, poll_s=0.2, stop_when=lambda: last_step(run_dir) >= step)

    code = train_or_resume(run_dir, start, **until(1500))
    stopped_at = last_step(run_dir)
    assert code != 0 and 1500 <= stopped_at < 20000  # stopped by SIGTERM, not finished
    assert (run_dir / "checkpoints" / "latest.pt").is_file()
    assert not (run_dir / "summary.json").exists()
    train_or_resume(run_dir, start, **until(3000))  # continued with --resume
    assert 3000 <= last_step(run_dir) < 20000
    steps = [r["step"] for r in read_rows(run_dir)]
    assert steps == sorted(steps) and steps.count(500) == 1  # resumed, not started again
    assert "total_steps: 20000" in (run_dir / "config.yaml").read_text()  # its schedule's length


def test_the_record_at_a_step_averages_the_seeds_that_reached_it(tmp_path):
    """``--stop-at N``: the seeds that logged N are averaged up to N (later rows left out);
    a seed still short of N is listed as running with its last step, not averaged."""
    ends = {0: 30, 1: 20, 2: 10}
    for seed, end in ends.items():
        rows = []
        for step in range(10, end + 1, 10):
            rows.append({"step": step, "time": float(step), "rollout/ep_return": step + seed})
            rows.append({"step": step, "time": float(step), "eval/mean_return": 100.0 * step})
        run = run_dir_of(tmp_path, "Breakout", "dqn", seed)
        run.mkdir(parents=True)
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    entry = record(tmp_path, ["Breakout"], ["dqn"], [0, 1, 2], at=20)["games"]["Breakout"]["dqn"]
    assert entry["seeds"] == [0, 1] and entry["running"] == {2: 10}
    assert entry["steps"] == 20 and entry["return_100"] == 20.5
    assert entry["curve"] == [(10, 10.5, 10.0, 11.0), (20, 20.5, 20.0, 21.0)]
    assert entry["last_evals"] == [2000.0, 2000.0]  # seed 0's eval at 30 lies past the record
    every = record(tmp_path, ["Breakout"], ["dqn"], [0, 1, 2])["games"]["Breakout"]["dqn"]
    assert every["seeds"] == [0, 1, 2] and every["running"] == {} and every["steps"] == 10


def write_runs(root: Path, algo: str, ends: dict[int, int]) -> None:
    """Breakout runs of ``algo`` whose training return is ``step + seed`` every 10 steps."""
    for seed, end in ends.items():
        rows = [
            {"step": s, "time": float(s), "rollout/ep_return": s + seed}
            for s in range(10, end + 1, 10)
        ]
        run = run_dir_of(root, "Breakout", algo, seed)
        run.mkdir(parents=True)
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_an_algorithm_none_of_whose_seeds_reached_the_step_is_recorded_where_they_are(
    tmp_path,
):
    """``--stop-at 30`` with DQN's seeds at 30 and Rainbow's at 20 and 10: DQN is recorded
    at 30, Rainbow up to 10 (where both its seeds are) rather than left out, and both of
    its seeds are listed as short of 30."""
    write_runs(tmp_path, "dqn", {0: 30, 1: 30})
    write_runs(tmp_path, "rainbow", {0: 20, 1: 10})
    games = record(tmp_path, ["Breakout"], ["dqn", "rainbow"], [0, 1], at=30)["games"]
    dqn, rainbow = games["Breakout"]["dqn"], games["Breakout"]["rainbow"]
    assert dqn["steps"] == 30 and dqn["return_100"] == 30.5 and dqn["running"] == {}
    assert rainbow["seeds"] == [0, 1] and rainbow["running"] == {0: 20, 1: 10}
    assert rainbow["steps"] == 10 and rainbow["curve"] == [(10, 10.5, 10.0, 11.0)]


def test_a_leg_stopped_before_its_step_says_where_its_seeds_are(tmp_path):
    """A leg to 50 whose runs were stopped at 30 and 20 (SIGTERM before any reached 50)
    still writes a record: its headline is DQN's at 20, where all seeds are, and its unit
    says so instead of claiming step 50; a leg that got there says step 50."""
    write_runs(tmp_path, "dqn", {0: 30, 1: 20})
    data = record(tmp_path, ["Breakout"], ["dqn"], [0, 1], at=50)
    assert data["at"] == 50 and data["ours"] == 20.5
    assert "at step 20, the last step all its seeds reached (none reached 50)" in data["unit"]
    assert data["peer"] == data["games"]["Breakout"]["dqn"]["published"]["young_tian_dqn"]
    done = record(tmp_path, ["Breakout"], ["dqn"], [0, 1], at=20)
    assert "at step 20, over the seeds that reached it" in done["unit"]


def test_the_record_covers_every_game_and_algorithm_with_runs(tmp_path):
    """Training Rainbow alone (``--algos rainbow``) rewrites a record that keeps DQN's runs;
    a game or algorithm with no run of the seeds is left out unless asked for."""
    write_runs(tmp_path, "dqn", {0: 10})
    assert recorded(tmp_path, ["Breakout"], ["rainbow"], [0]) == (["Breakout"], ["dqn", "rainbow"])
    assert recorded(tmp_path, ["SpaceInvaders"], ["rainbow"], [1]) == (
        ["SpaceInvaders"],
        ["rainbow"],
    )
    assert recorded(tmp_path, ["SpaceInvaders"], ["rainbow"], [0])[0] == [
        "Breakout",
        "SpaceInvaders",
    ]


def test_a_kept_record_adds_its_seeds_where_no_run_has_them(tmp_path):
    """``--keep``: the seeds of a previous record (run on a machine whose run dirs are gone)
    are combined with the runs found here; a seed found here again replaces that record."""
    for seed in (1, 2):
        rows = [{"step": s, "time": float(s), "rollout/ep_return": s + seed} for s in (10, 20)]
        rows.append({"step": 20, "time": 20.0, "eval/mean_return": 7.0 + seed})
        run = run_dir_of(tmp_path, "Breakout", "dqn", seed)
        run.mkdir(parents=True)
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    old = {
        "at": 20,
        "games": {
            "Breakout": {
                "dqn": {
                    "seeds": [0],
                    "steps": 20,
                    "curve": [[10, 4.0, 4.0, 4.0], [20, 5.0, 5.0, 5.0]],
                    "last_evals": [3.0],
                    "wall_s": [100],
                }
            }
        },
    }
    entry = record(tmp_path, ["Breakout"], ["dqn"], [0, 1, 2], at=20, kept=old)
    entry = entry["games"]["Breakout"]["dqn"]
    assert entry["seeds"] == [0, 1, 2] and entry["kept_seeds"] == [0]
    assert entry["curve"] == [(10, 9.0, 4.0, 12.0), (20, 16.0, 5.0, 22.0)]  # (5 + 21 + 22) / 3
    assert entry["last_evals"] == [3.0, 8.0, 9.0] and entry["wall_s"][0] == 100
    alone = record(tmp_path, ["Breakout"], ["dqn"], [1, 2], at=20)["games"]["Breakout"]["dqn"]
    assert alone["kept_seeds"] == [] and alone["return_100"] == 21.5
    old["games"]["Breakout"]["dqn"]["seeds"] = [1]  # seed 1 ran here too: the runs win
    again = record(tmp_path, ["Breakout"], ["dqn"], [0, 1, 2], at=20, kept=old)
    assert again["games"]["Breakout"]["dqn"]["seeds"] == [1, 2]
    with pytest.raises(SystemExit, match="--stop-at"):
        record(tmp_path, ["Breakout"], ["dqn"], [0, 1, 2], at=30, kept=old)
    # a kept entry none of whose seeds reached its record's step counts at that same step
    old["games"]["Breakout"]["dqn"].update(seeds=[0], steps=10, curve=[[10, 4.0, 4.0, 4.0]])
    short = record(tmp_path, ["Breakout"], ["dqn"], [0, 1, 2], at=20, kept=old)
    assert short["games"]["Breakout"]["dqn"]["curve"] == [(10, 9.0, 4.0, 12.0)]


def test_a_record_at_one_step_is_not_replaced_by_one_at_another(tmp_path):
    path = tmp_path / "minatar.json"
    assert replaces_another_step(path, 1_000_000) is None  # nothing there yet
    path.write_text(json.dumps({"bench": "minatar", "at": 500_000}))
    assert replaces_another_step(path, 500_000) is None  # the same step: brought up to date
    assert "step 500000" in replaces_another_step(path, 1_000_000)
    assert "last step all seeds reached" in replaces_another_step(path, None)
    path.write_text("[1, 2]")
    assert "not a record" in replaces_another_step(path, 500_000)


@pytest.mark.parametrize(
    ("script", "name"), [("minatar.py", "minatar"), ("minatar_network.py", "minatar-network")]
)
def test_the_script_refuses_to_replace_a_record_at_another_step(tmp_path, script, name):
    text = json.dumps({"bench": name, "at": 500_000})
    (tmp_path / f"{name}.json").write_text(text)
    path = Path(__file__).resolve().parents[1] / "benchmarks" / script
    done = subprocess.run(
        [sys.executable, str(path), "--root", str(tmp_path), "--docs", str(tmp_path)]
        + ["--stop-at", "1000000", "--seeds", "7"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--name" in done.stderr
    assert (tmp_path / f"{name}.json").read_text() == text
    assert not (tmp_path / f"{name}.png").exists()
    assert list(tmp_path.iterdir()) == [tmp_path / f"{name}.json"]  # no run dir was made


def test_the_full_action_set_plays_the_v0_ids():
    """``--actions full``: Young & Tian's six actions (the ``-v0`` ids), the default the
    minimal set; the record says which it played."""
    from rlkit.envs import make_env

    assert env_id_of("Breakout") == "MinAtar/Breakout-v1"
    assert env_id_of("Breakout", "full") == "MinAtar/Breakout-v0"
    full, minimal = make_env(env_id_of("Breakout", "full")), make_env(env_id_of("Breakout"))
    assert (full.action_space.n, minimal.action_space.n) == (6, 3)
    full.close()
    minimal.close()
    data = record(Path("/nonexistent"), ["Breakout"], ["dqn"], [0], actions="full")
    assert data["actions"] == "full" and "full action set" in data["work"]


def test_the_exploration_probe_draws_random_actions_from_the_set_it_names():
    """``benchmarks/minatar_exploration.py``: with epsilon 1 every action is a random one,
    from all six actions (``full``) or only Breakout's minimal set, no-op, left and right
    (``minimal``); with epsilon 0 (and in ``greedy``) every action is the policy's."""
    import gymnasium as gym

    from benchmarks.minatar_exploration import play, random_actions
    from rlkit.envs import make_env

    class Taken(gym.Wrapper):
        """Records the actions the game is given."""

        actions: list[int] = []

        def step(self, action):
            self.actions.append(int(action))
            return self.env.step(action)

    class Fixed:
        """A policy that always answers 2 (up: nothing in Breakout)."""

        calls = 0

        def predict(self, obs):
            Fixed.calls += 1
            return 2, None

    env = Taken(make_env(env_id_of("Breakout", "full")))
    assert random_actions(env, "minimal") == [0, 1, 3] and random_actions(env, "greedy") is None
    assert play(Fixed(), env, "minimal", 3, epsilon=1.0, seed=0) and Fixed.calls == 0
    assert set(Taken.actions) == {0, 1, 3}
    Taken.actions.clear()
    play(Fixed(), env, "full", 3, epsilon=1.0, seed=0)
    assert set(Taken.actions) == set(range(6)) and Fixed.calls == 0
    Taken.actions.clear()
    play(Fixed(), env, "full", 2, epsilon=0.0, seed=0)
    assert set(Taken.actions) == {2} and Fixed.calls == len(Taken.actions)
    env.close()


def test_the_network_ablation_sets_both_networks_at_the_variants_step(tmp_path):
    """``benchmarks/minatar_network.py``: the Dopamine network's runs, recorded at their
    step, beside the record's Rainbow runs (further on) cut at that same step, and the
    published Rainbow interpolated there."""
    from benchmarks.minatar_network import comparison

    def write(root: Path, end: int, offset: float) -> None:
        for seed in (0, 1):
            rows = [
                {"step": s, "time": float(s), "rollout/ep_return": s / 1e5 + seed + offset}
                for s in range(500_000, end + 1, 500_000)
            ]
            run = run_dir_of(root, "SpaceInvaders", "rainbow", seed)
            run.mkdir(parents=True)
            (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    write(tmp_path / "variant", 1_000_000, 0.0)
    write(tmp_path / "reference", 1_500_000, 50.0)
    games, seeds = ["SpaceInvaders"], [0, 1]
    variant = record(tmp_path / "variant", games, ["rainbow"], seeds, at=1_000_000, actions="full")
    reference = record(tmp_path / "reference", games, ["rainbow"], seeds, actions="full")
    data = comparison(variant, reference, games, 1_000_000)
    entry = data["games"]["SpaceInvaders"]
    assert entry["steps"] == 1_000_000
    assert entry["dopamine"]["return_100"] == 10.5  # 10 + the seeds' mean offset 0.5
    assert entry["young_tian"]["return_100"] == 60.5 and entry["young_tian"]["seed_range"] == [
        60.0,
        61.0,
    ]
    assert [p[0] for p in entry["young_tian"]["curve"]] == [500_000, 1_000_000]  # cut there
    published = (25.6 + 46.9) / 2  # their first two iterations, drawn at 500k and 1.5M
    assert entry["revisiting_rainbow"] == pytest.approx(round(published, 2))
    assert data["ours"] == 10.5 and data["mlp_128"] == 60.5
    assert data["ratio"] == pytest.approx(round(10.5 / round(published, 2), 3))


def leg(at: int, breakout_dqn_steps: int, actions: str | None = "full") -> dict:
    """A record at ``at`` with DQN on Breakout (whose seeds reached ``breakout_dqn_steps``)
    and Rainbow on SpaceInvaders, the way ``record`` writes one."""
    data = {
        "bench": "minatar",
        "at": at,
        "games": {
            "Breakout": {
                "dqn": {
                    "steps": breakout_dqn_steps,
                    "return_100": 8.0,
                    "published": {"young_tian_dqn": 10.0, "revisiting_rainbow_dqn": 5.0},
                }
            },
            "SpaceInvaders": {
                "rainbow": {
                    "steps": at,
                    "return_100": 150.0,
                    "published": {"revisiting_rainbow_rainbow": 60.0},
                }
            },
        },
    }
    if actions is not None:
        data["actions"] = actions
    return data


def test_the_legs_table_has_a_row_a_step_against_each_algorithms_own_peer():
    """``--legs``: rows sorted by step; DQN is held against Young & Tian, Rainbow against
    Obando-Ceron & Castro's Rainbow; a run with no record is '-', and seeds short of the
    record's step say where they are."""
    table = legs_table([leg(3_000_000, 2_750_000), leg(500_000, 500_000)]).splitlines()
    assert table[0] == (
        "| step | DQN Breakout | DQN SpaceInvaders | Rainbow Breakout | Rainbow SpaceInvaders |"
    )
    assert table[2] == "| 500k | 8.0 / 10.0 (0.80) | - | - | 150.0 / 60.0 (2.50) |"
    assert table[3] == "| 3M | 8.0 / 10.0 (0.80) at 2.75M | - | - | 150.0 / 60.0 (2.50) |"
    assert len(table) == 4


def test_the_legs_are_the_step_records_of_one_action_set(tmp_path):
    """A minimal-set record (no ``actions`` key, as the first ones were written), a full-set
    one and the network ablation's lie side by side in docs/; each set's table takes its
    own."""
    files = {
        "minatar.json": leg(500_000, 500_000, actions=None),
        "minatar-full-1m.json": leg(1_000_000, 1_000_000),
        "minatar-network.json": {"bench": "minatar_network", "at": 500_000},
        "minatar-exploration.json": {"bench": "minatar_exploration"},
    }
    for name, data in files.items():
        (tmp_path / name).write_text(json.dumps(data))
    (tmp_path / "minatar-list.json").write_text("[1, 2]")  # not a record
    (tmp_path / "minatar-cut.json").write_text('{"bench": "minatar", "at"')  # cut short
    assert [d["at"] for d in records_in(tmp_path, "full")] == [1_000_000]
    assert [d["at"] for d in records_in(tmp_path, "minimal")] == [500_000]


def test_a_leg_to_the_last_step_lets_the_run_finish_and_finishes_one_stopped_there(tmp_path):
    from benchmarks.minatar import train

    run_dir = tmp_path / "breakout-dqn-s0"
    fast = ["learning_starts=100", "log_interval=100", "eval_interval=0", "buffer_size=1000"]
    assert train("Breakout", "dqn", 0, run_dir, 600, 600, "full", fast) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["total_steps"] == 600 and "eval/mean_return" in summary
    # a run saved at its last step before its final evaluation (as a SIGTERM there leaves
    # it): the leg resumes it to finish instead of counting it done
    (run_dir / "summary.json").unlink()
    assert train("Breakout", "dqn", 0, run_dir, 600, 600, "full", fast) == 0
    assert json.loads((run_dir / "summary.json").read_text())["total_steps"] == 600


def test_every_writes_a_record_a_leg_of_the_steps_the_runs_reached(tmp_path):
    """``--every 10 --stop-at 40 --report-only``: the legs are 10, 20, 30 and 40; the runs
    reached 30 (seed 0) and 20 (seed 1), so the records at 10, 20 and 30 are written, each
    at its own step under its own name (at 30, seed 0's, with seed 1 running), and none at
    40. ``--every 0`` and ``--every`` with ``--keep`` exit 2 before anything is written."""
    from benchmarks.minatar import leg_name, legs_to

    assert legs_to(1_000_000, 500_000) == [500_000, 1_000_000]
    assert legs_to(1_200_000, 500_000) == [500_000, 1_000_000, 1_200_000]
    assert leg_name("minatar-full", 500_000) == "minatar-full-500k"
    assert leg_name("minatar-full", 30) == "minatar-full-30"
    write_runs(tmp_path, "dqn", {0: 30, 1: 20})
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "minatar.py"
    base = [sys.executable, str(script), "--root", str(tmp_path), "--docs", str(tmp_path)]
    base += ["--actions", "full", "--games", "Breakout", "--algos", "dqn", "--seeds", "0", "1"]
    for bad in (["--every", "0"], ["--every", "10", "--keep", str(tmp_path / "x.json")]):
        done = subprocess.run([*base, "--report-only", *bad], capture_output=True, text=True)
        assert done.returncode == 2 and "--every" in done.stderr
    assert not list(tmp_path.glob("*.json"))
    done = subprocess.run(
        [*base, "--report-only", "--every", "10", "--stop-at", "40"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        "minatar-full-10.json",
        "minatar-full-20.json",
        "minatar-full-30.json",
    ]
    for at in (10, 20, 30):
        data = json.loads((tmp_path / f"minatar-full-{at}.json").read_text())
        entry = data["games"]["Breakout"]["dqn"]
        assert data["at"] == at and entry["steps"] == at
        assert entry["running"] == ({"1": 20} if at == 30 else {})
        assert data["ours"] == (30.0 if at == 30 else at + 0.5)  # seed 0 alone at 30
    assert len(done.stdout.strip().splitlines()) == 3  # one summary line a leg


def summary_rows(readme: str) -> list[list[str]]:
    """The cells of the README's "Where the record stands" table (MinAtar)."""
    part = readme[readme.index("**Where the record stands**") :]
    table = part[part.index("| run |") :].split("\n\n")[0].splitlines()[2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in table]


def test_the_readmes_minatar_summary_is_the_records():
    root = Path(__file__).resolve().parents[1]
    rows = summary_rows((root / "README.md").read_text())
    assert len(rows) == 4
    folders = {
        ("Rainbow", ""): "docs/records/minatar-rainbow-3/{game}-{k}k.json",
        ("DQN", "(third set)"): "docs/records/minatar-dqn-3/{game}-{k}k.json",
        ("DQN", "(first set)"): "docs/minatar-full-{k}k.json",
    }
    for run, at, ours, young_tian, revisiting in rows:
        algo, _, rest = run.partition(", ")
        game, _, which = rest.partition(" ")
        k = round(float(at.rstrip("M")) * 1000)
        path = root / folders[algo, which].format(game=game.lower(), k=k)
        got = json.loads(path.read_text())["games"][game][algo.lower()]
        assert got["steps"] == k * 1000, run
        low, high = got["seed_range"]
        assert ours == f"**{got['return_100']}** [{low}, {high}]", run
        theirs = published_at(YOUNG_TIAN_DQN[game], k * 1000)
        assert float(young_tian.split(" ")[0]) == round(theirs, 2), run
        if algo == "DQN":  # ours over theirs
            assert young_tian.endswith(f"({got['return_100'] / theirs:.2f}x)"), run
        theirs = published_at(REVISITING_RAINBOW_POINTS[algo.lower()][game], k * 1000)
        assert float(revisiting.split(" ")[0]) == round(theirs, 2), run
        assert revisiting.split(" ")[1] == f"({algo}" + (")" if algo == "DQN" else ";"), run
        if algo == "Rainbow":
            assert revisiting.endswith(f"; {got['return_100'] / theirs:.2f}x)"), run
