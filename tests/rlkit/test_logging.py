import io
import json

import pytest

from rlkit.logging import Logger, format_duration


def test_metrics_jsonl_and_tensorboard(tmp_path):
    logger = Logger(tmp_path, total_steps=100, wandb_mode="disabled", console=None)
    logger.log(10, {"train/loss": 0.5, "rollout/ep_return": 3.0})
    logger.log(20, {"eval/mean_return": 7.0, "note": "text is kept in jsonl only"})
    logger.close()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20]
    assert rows[0]["train/loss"] == 0.5 and rows[1]["eval/mean_return"] == 7.0
    assert all(isinstance(r["time"], float) for r in rows)

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    assert set(acc.Tags()["scalars"]) == {"train/loss", "rollout/ep_return", "eval/mean_return"}
    assert [(e.step, e.value) for e in acc.Scalars("eval/mean_return")] == [(20, 7.0)]


def test_appends_on_reopen(tmp_path):
    for step in (1, 2):
        with Logger(
            tmp_path, total_steps=2, wandb_mode="disabled", console=None, tensorboard=False
        ) as log:
            log.log(step, {"x": step})
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2


def test_progress_line_shows_steps_rate_eta_and_returns(tmp_path):
    out = io.StringIO()
    logger = Logger(
        tmp_path, total_steps=1000, wandb_mode="disabled", console=out, tensorboard=False
    )
    logger.log(250, {"rollout/ep_return": 12.5, "eval/mean_return": 20.0})
    logger.close()
    line = out.getvalue().splitlines()[0]
    assert line.startswith("step 250/1,000 (25%)")
    assert " sps | ETA " in line and "return 12.5" in line and "eval 20" in line


def test_progress_line_past_the_budget_shows_eta_zero(tmp_path):
    # on-policy runs end on whole rollouts, so the last step may pass total_steps
    logger = Logger(
        tmp_path, total_steps=1000, wandb_mode="disabled", console=None, tensorboard=False
    )
    logger.log(1024, {"rollout/ep_return": 500.0})
    line = logger.progress_line(1024)
    logger.close()
    assert line.startswith("step 1,024/1,000 (102%)")
    assert "| ETA 0s |" in line


def test_a_resumed_runs_rows_before_its_first_step_show_no_rate(tmp_path):
    # (the evaluation a stop cut short, done first on resume: no step taken yet)
    logger = Logger(
        tmp_path,
        total_steps=4096,
        wandb_mode="disabled",
        console=None,
        tensorboard=False,
        start_step=3072,
    )
    logger.log(3072, {"eval/mean_return": -21.0})
    assert logger.progress_line(3072) == "step 3,072/4,096 (75%) | eval -21"
    logger.log(4096, {"rollout/ep_return": -20.0})
    assert " sps | ETA 0s | return -20" in logger.progress_line(4096)
    logger.close()


def test_format_duration():
    assert format_duration(9.4) == "9s"
    assert format_duration(75) == "1m15s"
    assert format_duration(3725) == "1h02m"
    assert format_duration(float("inf")) == "?"


def test_bad_wandb_mode(tmp_path):
    with pytest.raises(ValueError, match="wandb_mode"):
        Logger(tmp_path, total_steps=1, wandb_mode="sometimes")  # type: ignore[arg-type]


def test_wandb_offline_run_has_identity_and_config(tmp_path):
    logger = Logger(
        tmp_path,
        total_steps=10,
        config={"algo": "q-learning", "gamma": 0.9},
        wandb_mode="offline",
        group="q-learning-FrozenLake-v1",
        tags=["q-learning", "FrozenLake-v1"],
        console=None,
        tensorboard=False,
    )
    run = logger._wandb
    assert run is not None and run.offline
    assert run.project == "rlkit" and run.group == "q-learning-FrozenLake-v1"
    assert set(run.tags) == {"q-learning", "FrozenLake-v1"}
    assert run.config["gamma"] == 0.9
    logger.log(5, {"eval/mean_return": 1.0})
    logger.close()
    run_id = (tmp_path / "wandb_id").read_text().strip()
    files = list((tmp_path / "wandb").glob(f"offline-run-*-{run_id}/run-{run_id}.wandb"))
    assert len(files) == 1 and files[0].stat().st_size > 0


def test_closing_repeats_no_line_a_log_already_showed(tmp_path):
    # a console that is not a terminal keeps every line: the last one is shown once
    out = io.StringIO()
    logger = Logger(None, total_steps=100, wandb_mode="disabled", console=out)
    logger.log(100, {"rollout/ep_return": 9.0})
    logger.close(step=100)
    assert len(out.getvalue().splitlines()) == 1

    # a row logged after the last line shown (here rate-limited) still gets its line
    out = io.StringIO()
    logger = Logger(None, total_steps=100, wandb_mode="disabled", console=out)
    logger.log(100, {"rollout/ep_return": 9.0})
    logger.log(100, {"eval/mean_return": 50.0})
    logger.close(step=100)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "eval 50" not in lines[0] and lines[1].endswith("eval 50")
