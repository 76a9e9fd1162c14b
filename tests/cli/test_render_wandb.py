"""``rlkit render``, evaluation videos during training, the offline W&B run, ``rlkit sync``."""

import json

import imageio.v3 as iio
import pytest

from rlkit.wandb_offline import offline_runs, read_run


def frames(path):
    return sum(1 for _ in iio.imiter(path))


@pytest.fixture
def ppo_run(cli, tmp_path):
    code, _, err = cli(
        "train",
        "ppo",
        "CartPole-v1",
        "total_steps=1024",
        "eval_interval=512",
        "eval_episodes=2",
        "video_interval=512",
        "log_interval=256",
        "--run-dir",
        "r",
    )
    assert code == 0, err
    return tmp_path / "r"


def test_render_writes_an_mp4_with_one_frame_per_step_plus_the_reset(cli, tmp_path, ppo_run):
    code, _, err = cli("eval", "r", "--episodes", "3")
    assert code == 0, err
    lengths = json.loads((ppo_run / "eval.json").read_text())["lengths"]
    code, out, err = cli("render", "r", "--out", "play.mp4", "--episodes", "3")
    assert code == 0, err
    assert frames(tmp_path / "play.mp4") == sum(lengths) + 3
    code, _, err = cli("render", "r", "--out", "one.mp4")
    assert code == 0, err
    assert frames(tmp_path / "one.mp4") == lengths[0] + 1
    assert f"{sum(lengths) + 3} frames" in out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["render", "r"], "needs --out"),
        (["render", "r", "--out", "x.gif"], ".mp4"),
        (["render", "r", "--out", "nowhere/x.mp4"], "does not exist"),
        (["render", "r", "--out", "x.mp4", "--episodes", "0"], "--episodes"),
        (["render", "missing", "--out", "x.mp4"], "no such run dir"),
    ],
)
def test_render_bad_input(cli, tmp_path, ppo_run, argv, message):
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = cli(*argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_video_interval_records_eval_videos_into_the_run_and_the_offline_wandb_run(ppo_run):
    videos = sorted((ppo_run / "videos").glob("*.mp4"))
    assert [v.name for v in videos] == ["eval-step1024-episode-0.mp4", "eval-step512-episode-0.mp4"]
    assert all(frames(v) >= 2 for v in videos)
    rows = [json.loads(x) for x in (ppo_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["eval/video"] for r in rows if "eval/video" in r] == [
        "videos/eval-step512-episode-0.mp4",
        "videos/eval-step1024-episode-0.mp4",
    ]

    (folder,) = offline_runs(ppo_run)
    wandb_run = read_run(folder)
    assert wandb_run["id"] == (ppo_run / "wandb_id").read_text().strip()
    assert wandb_run["group"] == "ppo-CartPole-v1" and "rlkit" in wandb_run["tags"]
    assert wandb_run["config"]["algo"] == "ppo" and wandb_run["config"]["total_steps"] == 1024
    history = wandb_run["history"]
    ours = [(r["step"], r["eval/mean_return"]) for r in rows if "eval/mean_return" in r]
    theirs = [(h["global_step"], h["eval/mean_return"]) for h in history if "eval/mean_return" in h]
    assert theirs == ours
    assert [h["global_step"] for h in history if h.get("eval/video/_type") == "video-file"] == [
        512,
        1024,
    ]
    media = [f for f in wandb_run["files"] if f.startswith("media/videos/") and f.endswith(".mp4")]
    assert len(media) == 2 and all((folder / "files" / f).is_file() for f in media)
    summary = json.loads((ppo_run / "summary.json").read_text())
    assert wandb_run["summary"]["eval/mean_return"] == pytest.approx(summary["eval/mean_return"])


def test_sync_finds_the_offline_runs(cli, tmp_path, ppo_run):
    code, out, err = cli("sync", "r", "--dry-run")
    assert code == 0, err
    (folder,) = offline_runs(ppo_run)
    assert "-m wandb sync" in out and out.strip().endswith(str(folder.relative_to(tmp_path)))
    (tmp_path / "plain").mkdir()
    code, _, err = cli("sync", "plain")
    assert code == 2 and "no W&B runs" in err
