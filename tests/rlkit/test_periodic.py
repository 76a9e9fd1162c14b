"""``rlkit.periodic.Periodic``: what a training loop's periodic work does, and when, on a
fake run whose logger and checkpoints are lists."""

import signal
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest

from rlkit.distributed import SINGLE
from rlkit.errors import Stopped
from rlkit.evaluation import EvaluationCancelled
from rlkit.periodic import EpisodeStats, Periodic, crossed
from rlkit.rundir import StopRequest
from rlkit.seeding import make_rngs


class FakeRun:
    def __init__(self) -> None:
        self.rows, self.saved, self.videos = [], [], []
        self.logger = SimpleNamespace(rows=0, log=self.log)
        self.rngs = make_rngs(0, seed_globals=False)
        self.stop = StopRequest()
        self.resume = None
        self.ranks = SINGLE
        self.env_id = "CartPole-v1"

    def log(self, step, metrics):
        self.rows.append((step, dict(metrics)))
        self.logger.rows += 1

    def make_env(self, **_):
        return gym.make("CartPole-v1")

    def save_checkpoint(self, state, best=False):
        self.saved.append((state["step"], best))
        self.last_checkpoint = state

    def record_eval_video(self, policy, step, **_):
        self.videos.append(step)

    def stop_if_requested(self, step, save):
        if self.stop.asked:
            save(step)
            raise Stopped(self.stop.signum, step)


class Agent:
    def state_dict(self):
        return {"weights": 1}

    def load_state_dict(self, state):
        self.loaded = state


def config(**kwargs):
    values = {
        "log_interval": 100,
        "eval_interval": 250,
        "checkpoint_interval": 500,
        "video_interval": 0,
        "eval_episodes": 2,
        "total_steps": 1000,
    }
    return SimpleNamespace(**{**values, **kwargs})


def test_crossed():
    assert crossed(99, 100, 100) and crossed(0, 250, 100) and not crossed(100, 199, 100)
    assert not crossed(0, 10**9, 0)  # an interval of 0: never


def test_work_is_done_when_an_interval_is_crossed_and_the_best_is_kept():
    run = FakeRun()
    periodic = Periodic(config(video_interval=600), run, lambda: lambda obs: 0, Agent())
    means = iter([10.0, 30.0, 20.0])  # what the three evaluations return
    periodic.evaluate = lambda step, cancel=None: {"eval/mean_return": next(means)}
    step = 0
    while step < 1000:  # a loop that advances 64 steps at a time
        before, step = step, min(step + 64, 1000)
        periodic.after(before, step, {"train/loss": 1.0})
    logged = [s for s, row in run.rows if "train/loss" in row]
    assert logged == [128, 256, 320, 448, 512, 640, 704, 832, 960, 1000]
    evaluated = [s for s, row in run.rows if "eval/mean_return" in row]
    assert evaluated == [256, 512, 768]  # not at total_steps: finish evaluates there
    # best.pt at 256 (10) and 512 (30, better), not at 768 (20); latest.pt every 500 steps,
    # where the checkpoint at 512 is the one the improved evaluation just wrote (a DQN
    # state with its replay is gigabytes: it is written once)
    assert run.saved == [(256, True), (512, True), (1000, False)]
    assert run.videos == [640]
    train_rows = [row for _, row in run.rows if "train/loss" in row]
    assert all("time/sps" in row and "rollout/episodes" in row for row in train_rows)


def test_finish_evaluates_and_saves_and_a_stop_request_saves_then_raises():
    run = FakeRun()
    periodic = Periodic(config(), run, lambda: lambda obs: 0, Agent())
    summary = periodic.finish(1000, {"train/updates": 7})
    assert summary["total_steps"] == 1000 and summary["train/updates"] == 7
    assert summary["eval/episodes"] == 2 and summary["eval/mean_return"] > 0
    assert run.saved == [(1000, True)]
    run.stop.by_callback = True
    with pytest.raises(Stopped) as stopped:
        periodic.after(1000, 1001)
    assert stopped.value.signum is None and run.saved[-1] == (1001, False)


def test_state_round_trips_through_restore():
    run = FakeRun()
    periodic = Periodic(config(), run, lambda: lambda obs: 0, Agent())
    periodic.stats.add(np.float64(12.0), np.int64(12))
    periodic.best_eval = 7.0
    saved = {"step": 300, "weights": 1, "resume": periodic.state_dict()}
    draw = run.rngs.numpy.random()
    run.resume = saved
    again = Periodic(config(), run, lambda: lambda obs: 0, Agent())
    run.rngs = make_rngs(0, seed_globals=False)
    assert again.restore() == 300 and again.agent.loaded["weights"] == 1
    assert again.best_eval == 7.0 and list(again.stats.returns) == [12.0]
    assert run.rngs.numpy.random() == draw  # the generator is back where it was saved


def test_episode_statistics_from_a_vector_and_a_single_env():
    stats = EpisodeStats()
    stats.record(
        {
            "final_info": {
                "_episode": np.array([True, False, True]),
                "episode": {"r": np.array([1.0, 0.0, 3.0]), "l": np.array([1, 0, 3])},
            }
        }
    )
    stats.record({"episode": {"r": np.array(5.0), "l": np.array(5)}})
    stats.record({})
    assert stats.metrics() == {
        "rollout/episodes": 3,
        "rollout/ep_return": 3.0,
        "rollout/ep_return_20": 3.0,
        "rollout/ep_length": 3.0,
    }
    for r in range(30):
        stats.add(float(r), 1)
    assert stats.metrics()["rollout/ep_return_20"] == sum(range(10, 30)) / 20


def drive(periodic, start, end=1000, stride=64):
    """A loop that advances ``stride`` env steps at a time from ``start``, then finishes."""
    step = start
    while step < end:
        before, step = step, min(step + stride, end)
        periodic.after(before, step, {"train/loss": 1.0})
    return periodic.finish(end)


def policies(run, signal_in=None, at_call=3):
    """An eval-policy factory whose policies act alike (so every evaluation measures the
    same); the ``signal_in``-th policy made sends the run a SIGTERM at its ``at_call``-th
    action, in the middle of that evaluation's first episode."""
    made = []

    def make():
        made.append(True)
        number, calls = len(made), []

        def policy(obs):
            calls.append(True)
            if number == signal_in and len(calls) == at_call:
                run.stop.signum = signal.SIGTERM
            return len(calls) % 2

        return policy

    return make


def without_sps(rows):
    return [(step, {k: v for k, v in row.items() if k != "time/sps"}) for step, row in rows]


def resumed(run, periodic_config, **kwargs):
    """The run picked up from its last checkpoint (as ``--resume`` does)."""
    run.stop, run.resume = StopRequest(), run.last_checkpoint
    return Periodic(periodic_config, run, policies(run), Agent(), **kwargs)


def test_a_signal_during_an_evaluation_saves_at_once_and_the_resumed_run_evaluates_first():
    whole = FakeRun()
    drive(Periodic(config(), whole, policies(whole), Agent()), 0)
    run = FakeRun()
    periodic = Periodic(config(), run, policies(run, signal_in=2), Agent())
    with pytest.raises(Stopped) as stopped:
        drive(periodic, 0)
    # the evaluation at 512 was given up at its third step: nothing of it logged, the
    # checkpoint at 512 (due anyway) written with it pending
    assert stopped.value.step == 512 and stopped.value.signum == signal.SIGTERM
    assert [s for s, row in run.rows if "eval/mean_return" in row] == [256]
    assert run.saved == [(256, True), (512, False)]
    assert run.last_checkpoint["resume"]["pending"] == {"eval": 512}
    again = resumed(run, config())
    assert again.restore() == 512
    assert run.rows[-1][0] == 512 and "eval/mean_return" in run.rows[-1][1]
    drive(again, 512)
    # the same rows, evaluations, best and checkpoints as the run never stopped
    assert without_sps(run.rows) == without_sps(whole.rows)
    assert run.saved == whole.saved
    assert again.history.steps == [256, 512, 768, 1000]
    assert again.pending == {} and run.last_checkpoint["resume"]["pending"] == {}


def test_a_signal_before_a_video_leaves_it_to_the_resumed_run():
    run = FakeRun()
    periodic = Periodic(config(video_interval=600), run, policies(run), Agent())
    log = run.log

    def signal_at_640(step, metrics):
        log(step, metrics)
        if step == 640:  # logged first; the video of 640 comes next
            run.stop.signum = signal.SIGTERM

    run.logger.log = signal_at_640
    with pytest.raises(Stopped):
        drive(periodic, 0)
    assert run.videos == [] and run.saved[-1] == (640, False)
    assert run.last_checkpoint["resume"]["pending"] == {"video": 640}
    run.logger.log = log
    again = resumed(run, config(video_interval=600))
    assert again.restore() == 640 and run.videos == [640]
    drive(again, 640)
    assert run.videos == [640, 1000]  # and the final one, as any run records


def test_a_signal_during_the_final_evaluation_saves_and_resume_finishes():
    run = FakeRun()
    periodic = Periodic(config(), run, policies(run, signal_in=4), Agent())
    with pytest.raises(Stopped) as stopped:
        drive(periodic, 0)
    assert stopped.value.step == 1000 and run.saved[-1] == (1000, False)
    assert [s for s, row in run.rows if "eval/mean_return" in row] == [256, 512, 768]
    again = resumed(run, config())
    assert again.restore() == 1000  # nothing pending: finishing evaluates
    summary = again.finish(1000)
    assert summary["eval/episodes"] == 2 and run.rows[-1][0] == 1000
    assert [s for s, row in run.rows if "eval/mean_return" in row] == [256, 512, 768, 1000]


def test_a_stop_asked_by_a_callback_lets_the_evaluation_finish():
    run = FakeRun()
    periodic = Periodic(config(), run, policies(run), Agent())
    log = run.log

    def stop_after_256(step, metrics):
        log(step, metrics)
        if step == 256 and "train/loss" in metrics:
            run.stop.by_callback = True  # before the evaluation at 256

    run.logger.log = stop_after_256
    with pytest.raises(Stopped):
        drive(periodic, 0)
    assert [s for s, row in run.rows if "eval/mean_return" in row] == [256]
    assert run.last_checkpoint["resume"]["pending"] == {}


def test_a_signal_during_the_final_video_saves_it_pending_and_resume_logs_no_second_row():
    whole = FakeRun()
    drive(Periodic(config(video_interval=600), whole, policies(whole), Agent()), 0)
    run = FakeRun()

    def video_cut_at_1000(policy, step, cancel=None, **_):
        if step == 1000:  # the signal comes mid-episode; the recorder then gives up
            run.stop.signum = signal.SIGTERM
        if cancel is not None and cancel():
            raise EvaluationCancelled("stopping")
        run.videos.append(step)

    run.record_eval_video = video_cut_at_1000
    periodic = Periodic(config(video_interval=600), run, policies(run), Agent())
    with pytest.raises(Stopped) as stopped:
        drive(periodic, 0)
    assert stopped.value.step == 1000 and run.videos == [640]
    # saved after the final evaluation, then again with the video pending
    assert run.saved[-2:] == [(1000, True), (1000, False)]
    state = run.last_checkpoint["resume"]
    assert state["pending"] == {"video": 1000} and state["final"]["eval/episodes"] == 2
    del run.record_eval_video  # the class's own recorder again
    again = resumed(run, config(video_interval=600))
    assert again.restore() == 1000 and run.videos == [640, 1000]
    summary = again.finish(1000)
    # the final evaluation logged once, as in the run that was never stopped
    assert without_sps(run.rows) == without_sps(whole.rows)
    assert summary["eval/mean_return"] == whole.rows[-1][1]["eval/mean_return"]
    assert run.videos == [640, 1000] and run.last_checkpoint["resume"]["pending"] == {}


def test_a_run_resumed_after_its_final_checkpoint_does_not_evaluate_again():
    run = FakeRun()
    first = drive(Periodic(config(), run, policies(run), Agent()), 0)
    rows = list(run.rows)  # killed here, before its summary was written
    again = resumed(run, config())
    assert again.restore() == 1000
    summary = again.finish(1000)
    assert run.rows == rows
    assert {k: v for k, v in summary.items() if k.startswith("eval/")} == {
        k: v for k, v in first.items() if k.startswith("eval/")
    }
    assert isinstance(run.last_checkpoint["resume"]["final"]["eval/episodes"], int)


def test_a_resumed_run_reports_the_whole_run_wall_time_and_rate(monkeypatch):
    from rlkit import periodic as periodic_module

    now = [0.0]  # a clock that moves 1 s for each stride of 64 env steps, and as set here
    monkeypatch.setattr(periodic_module.time, "perf_counter", lambda: now[0])

    def strides(periodic, start, end):
        step = start
        while step < end:
            before, step = step, min(step + 64, end)
            now[0] += 1.0
            periodic.after(before, step, {"train/loss": 1.0})

    run = FakeRun()
    strides(Periodic(config(), run, policies(run), Agent()), 0, 576)  # then killed
    saved = run.last_checkpoint  # the checkpoint at 512: 8 strides, 8 s in
    assert saved["step"] == 512 and saved["resume"]["wall_s"] == 8.0
    now[0] = 100.0  # the time between the two processes is not the run's
    again = resumed(run, config())
    assert again.restore() == 512 and again.earlier_wall_s == 8.0
    strides(again, 512, 1000)  # 8 strides more: 16 s of training for 1,000 steps
    summary = again.finish(1000)
    assert summary["earlier_wall_s"] == 8.0 and summary["time/sps"] == 1000 / 16.0
    assert run.last_checkpoint["resume"]["wall_s"] == 16.0  # resumed again: the whole
    fresh = FakeRun()  # a run never resumed: no earlier time, its own rate
    now[0] = 0.0
    periodic = Periodic(config(), fresh, policies(fresh), Agent())
    strides(periodic, 0, 1000)
    summary = periodic.finish(1000)
    assert summary["earlier_wall_s"] == 0.0 and summary["time/sps"] == 1000 / 16.0
    for bad in (float("nan"), float("inf"), -5.0):  # a checkpoint is untrusted: ignored
        run.last_checkpoint["resume"]["wall_s"] = bad
        again = resumed(run, config())
        assert again.restore() == 1000 and again.earlier_wall_s == 0.0


def test_the_summary_wall_time_adds_the_time_before_a_resume():
    from rlkit.launch import _close_run

    spec = SimpleNamespace(
        algo="dqn", implementation="rlkit", env_id="CartPole-v1", seed=0, run_dir=None
    )
    run = SimpleNamespace(logger=SimpleNamespace(summary=lambda s: None, close=lambda step: None))
    result = {"total_steps": 1000, "earlier_wall_s": 30.0, "time/sps": 25.0}
    summary = _close_run(spec, run, result, 10.0)
    assert summary["wall_time_s"] == 40.0 and "earlier_wall_s" not in summary
    assert summary["time/sps"] == 25.0
    summary = _close_run(spec, run, {"total_steps": 1000}, 10.0)
    assert summary["wall_time_s"] == 10.0 and summary["time/sps"] == 100.0
