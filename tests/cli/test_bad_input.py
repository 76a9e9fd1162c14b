"""Bad input, tried: each exits 2 (1 for faults of the machine) with one clear line,
writes nothing new and damages nothing that was there."""

import errno
import hashlib

import pytest

EXISTING = {
    "old/config.yaml": b"algo: ppo\n",
    "old/checkpoints/latest.pt": b"\x00weights",
    "notes.txt": b"mine",
    "noenv/config.yaml": b"algo: ppo\n",  # a run dir's config that was tampered with
    "badseed/config.yaml": b"algo: ppo\nenv_id: CartPole-v1\nseed: x\n",
}


def snapshot(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(autouse=True, scope="module")
def env_of_a_missing_package():
    """An id whose entry point lives in a package that is not installed."""
    import gymnasium as gym

    def needs_box2d(**_kwargs):
        raise gym.error.DependencyNotInstalled(
            'Box2D is not installed, run `pip install "gymnasium[box2d]"`'
        )

    gym.register("rlkit-test/Missing-v0", entry_point="rlkit_no_such_package.envs:Env")
    gym.register("rlkit-test/NeedsBox2D-v0", entry_point=needs_box2d)
    yield
    gym.registry.pop("rlkit-test/Missing-v0")
    gym.registry.pop("rlkit-test/NeedsBox2D-v0")


@pytest.fixture
def workdir(tmp_path):
    for name, data in EXISTING.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tmp_path / "foreign.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    (tmp_path / "pickled.yaml").write_text("learning_rate: !!python/object/apply:os.getcwd []\n")
    return tmp_path


BAD = [
    # what is asked for
    (["train", "ppo-lstm", "CartPole-v1"], 2, "unknown algorithm"),
    (["train", "ppo", "CartPol-v1"], 2, "did you mean 'CartPole-v1'"),
    # a config file's name for a MinAtar id: MinAtar's ids are offered though unregistered
    (["train", "dqn", "MinAtar-Breakout-v1"], 2, "did you mean 'MinAtar/Breakout-v1'"),
    (["train", "ppo", "CartPole-v1", "n_epoch=3"], 2, "did you mean 'n_epochs'"),
    (["train", "ppo", "CartPole-v1", "n_epochs=three"], 2, "n_epochs"),
    (["train", "ppo", "CartPole-v1", "normalize_advantage=maybe"], 2, "normalize_advantage"),
    (["train", "ppo", "CartPole-v1", "n_steps=0"], 2, "n_steps=0"),
    (["train", "ppo", "CartPole-v1", "total_steps=-100"], 2, "total_steps=-100"),
    (["train", "ppo", "CartPole-v1", "gamma=1.01"], 2, "gamma"),
    (["train", "ppo", "CartPole-v1", "gae_lambda=2"], 2, "gae_lambda"),
    (["train", "ppo", "CartPole-v1", "learning_rate=lin_-1"], 2, "learning_rate"),
    (["train", "ppo", "CartPole-v1", "batch_size=7"], 2, "batch_size=7"),
    (["train", "dqn", "CartPole-v1", "batch_size=64", "buffer_size=32"], 2, "at most buffer_size"),
    (
        ["train", "dqn", "CartPole-v1", "learning_starts=5000", "total_steps=1000"],
        2,
        "learning_starts",
    ),
    (["train", "dqn", "Pendulum-v1"], 2, "Discrete"),
    (["train", "ppo", "FrozenLake-v1"], 2, "Box observations"),
    (["train", "recurrent-ppo", "rlkit/CartPoleNoVel-v1", "frame_stack=4"], 2, "frame stacking"),
    (["train", "value-iteration", "CartPole-v1"], 2, "tabular"),
    (["train", "ppo", "CartPole-v1", "optimizer=adamw"], 2, "optimizer"),
    (["train", "ppo", "CartPole-v1", "env_kwargs.gravity=1"], 2, "env_kwargs"),
    # errors from inside an environment's constructor, naming the id and the keyword
    (["train", "q-learning", "FrozenLake-v1", "env_kwargs.map_name=5"], 2, "map_name=5"),
    (["train", "q-learning", "FrozenLake-v1", "env_kwargs.desc=3"], 2, "FrozenLake-v1"),
    (["train", "ppo", "ALE/Pong-v5", "env_kwargs.mode=99", "vec_env=sync"], 2, "mode=99"),
    (["train", "ppo", "ALE/Pong-v5", "env_kwargs.repeat_action_probability=x"], 2, "ALE/Pong-v5"),
    # counts out of range, and runs that cannot fit in memory (refused before any allocation)
    (["train", "ppo", "CartPole-v1", "total_steps=1e100"], 2, "allowed: 1 to 1e12"),
    (["train", "ppo", "CartPole-v1", "n_envs=100000"], 2, "allowed: 1 to 4,096"),
    (["train", "ppo", "CartPole-v1", "net_arch=[" + ",".join(["4"] * 65) + "]"], 2, "at most 64"),
    (
        ["train", "ppo", "CartPole-v1", "net_arch=[65536,65536]"],
        2,
        "GB of memory is available; lower net_arch",
    ),
    (
        ["train", "ppo", "CartPole-v1", "n_envs=4096", "n_steps=1000000"],
        2,
        "lower n_steps or n_envs",
    ),
    (["train", "dqn", "CartPole-v1", "buffer_size=3000000000"], 2, "lower buffer_size"),
    (["baseline", "dqn", "CartPole-v1", "buffer_size=3000000000"], 2, "lower buffer_size"),
    (["train", "ppo", "rlkit-test/Missing-v0"], 2, "needs the package 'rlkit_no_such_package'"),
    (
        ["train", "ppo", "rlkit-test/NeedsBox2D-v0"],
        2,
        "needs a package that is not installed: Box2D",
    ),
    (["train", "ppo", "../x"], 2, "env id"),
    (["train", "ppo", "CartPole-v1", "--seed", "-3"], 2, "--seed"),
    (["train", "ppo", "CartPole-v1", "--seeds", "5-2"], 2, "--seeds"),
    (["train", "ppo", "CartPole-v1", "--device", "tpu"], 2, "invalid choice"),
    # files
    (["train", "ppo", "CartPole-v1", "--config", "missing.yaml"], 2, "not found"),
    (["train", "ppo", "CartPole-v1", "--config", "pickled.yaml"], 2, "pickled.yaml"),
    (["train", "ppo", "CartPole-v1", "--run-dir", "old"], 2, "already exists"),
    (["train", "ppo", "CartPole-v1", "--run-dir", "notes.txt/run"], 1, "cannot"),
    (["eval", "foreign.pt"], 2, "checkpoint"),
    (["eval", "missing-run"], 2, "no such run dir"),
    (["eval", "old"], 2, "checkpoint"),
    (["render", "old", "--out", "x.mp4"], 2, "checkpoint"),
    (["baseline", "ppo", "CartPole-v1", "optimizer=lion"], 2, "lion"),
    (["compare", "notes.txt"], 2, "no such run directory"),
    (["train"], 2, "needs an algorithm"),
    (["baseline"], 2, "needs an algorithm"),
    (["train", "--resume", "old"], 2, "checkpoint"),
    (["train", "--resume", "notes.txt"], 2, "no such run dir"),
    (["train", "--resume", "noenv"], 2, "names no env_id"),
    (["train", "--resume", "badseed"], 2, "seed='x'"),
]


@pytest.mark.parametrize("argv,code,message", BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_input_is_one_line_and_leaves_everything_as_it_was(cli, workdir, argv, code, message):
    before = snapshot(workdir)
    got, _, err = cli(*argv)
    assert got == code, err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert snapshot(workdir) == before


def test_a_full_disk_at_the_start_leaves_no_half_made_run_dir(cli, workdir, monkeypatch):
    import rlkit.rundir

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "config.yaml")

    monkeypatch.setattr(rlkit.rundir, "atomic_write_yaml", full)
    before = snapshot(workdir)
    code, _, err = cli("train", "ppo", "CartPole-v1", "--run-dir", "new", "--wandb", "disabled")
    assert code == 1 and "No space left on device" in err and len(err.strip().splitlines()) == 1
    assert snapshot(workdir) == before


def test_a_full_disk_mid_run_keeps_the_last_checkpoint(cli, workdir, monkeypatch):
    import rlkit.checkpoint
    from rlkit.checkpoint import load_checkpoint

    real = rlkit.checkpoint.write_state
    calls = {"n": 0}

    def fills_up(file, state):
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device", str(file.name))
        real(file, state)

    monkeypatch.setattr(rlkit.checkpoint, "write_state", fills_up)
    code, _, err = cli(
        "train",
        "ppo",
        "CartPole-v1",
        "total_steps=2048",
        "checkpoint_interval=256",
        "eval_interval=0",
        "--run-dir",
        "r",
        "--wandb",
        "disabled",
    )
    assert code == 1 and "No space left on device" in err and "intact" in err
    assert len(err.strip().splitlines()) == 1
    assert load_checkpoint(workdir / "r" / "checkpoints" / "latest.pt")["step"] == 256
    assert not [p for p in (workdir / "r" / "checkpoints").iterdir() if p.name.endswith(".tmp")]
