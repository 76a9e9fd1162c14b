"""``rlkit baseline``: the SB3 field mapping, refusals, and agreement with SB3 called directly."""

import dataclasses
import importlib
import json
import os

import numpy as np
import pytest
import torch

from rlkit import sb3 as baseline
from rlkit.agents import ALGORITHMS
from rlkit.config import build_config
from rlkit.errors import BadInput

KINDS = {"sb3", "policy", "optimizer", "run", "speed", "fixed"}


def config_class(algo):
    return importlib.import_module(ALGORITHMS[algo]).Config


@pytest.mark.parametrize("algo", baseline.SB3_ALGOS)
def test_mapping_covers_every_config_field(algo):
    fields = {f.name for f in dataclasses.fields(config_class(algo))}
    assert set(baseline.MAPPING[algo]) == fields
    assert {spec.kind for spec in baseline.MAPPING[algo].values()} <= KINDS
    kwargs = baseline.sb3_kwargs(algo, config_class(algo)())
    assert "policy_kwargs" in kwargs and "optimizer_class" in kwargs["policy_kwargs"]


@pytest.mark.parametrize(
    ("algo", "shape", "arch", "extractor"),
    [
        ("dqn", (4,), [64, 64], False),  # a vector: rlkit's net_arch
        ("dqn", (4, 84, 84), None, False),  # Atari frames: SB3's Nature CNN, no net_arch
        ("dqn", (6, 10, 10), [], True),  # MinAtar's planes: its network, heads on it
        ("ppo", (4, 84, 84), None, False),
    ],
)
def test_observation_shape_decides_the_sb3_network(algo, shape, arch, extractor):
    config = build_config(config_class(algo), {"net_arch": [64, 64]})
    policy = baseline.sb3_kwargs(algo, config, shape)["policy_kwargs"]
    if arch is None:
        assert "net_arch" not in policy
    else:
        expected = arch if algo == "dqn" else {"pi": arch, "vf": arch}
        assert policy["net_arch"] == expected
    assert ("features_extractor_class" in policy) == extractor
    if extractor:
        assert policy["features_extractor_kwargs"] == {
            "hidden": config.minatar_hidden,
            "padding": config.minatar_padding,
        }
        assert policy["normalize_images"] is False


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_minatar_planes_are_refused_outside_dqn(algo):
    with pytest.raises(BadInput, match="dqn only"):
        baseline.sb3_kwargs(algo, config_class(algo)(), (6, 10, 10))


def test_sb3_arguments_of_the_ppo_cartpole_config():
    config = build_config(
        config_class("ppo"),
        {
            "learning_rate": "lin_0.001",
            "clip_range": "lin_0.2",
            "n_steps": 32,
            "n_envs": 8,
            "batch_size": 256,
            "n_epochs": 20,
            "gae_lambda": 0.8,
            "gamma": 0.98,
            "activation": "relu",
            "net_arch": [32, 32],
        },
    )
    kwargs = baseline.sb3_kwargs("ppo", config)
    # SB3 passes the progress *remaining*: 1 at the start, 0 at the end
    assert kwargs["learning_rate"](1.0) == pytest.approx(1e-3)
    assert kwargs["learning_rate"](0.25) == pytest.approx(2.5e-4)
    assert kwargs["clip_range"](0.5) == pytest.approx(0.1)
    assert (kwargs["n_steps"], kwargs["batch_size"], kwargs["n_epochs"]) == (32, 256, 20)
    assert (kwargs["gae_lambda"], kwargs["gamma"]) == (0.8, 0.98)
    policy = kwargs["policy_kwargs"]
    assert policy["net_arch"] == {"pi": [32, 32], "vf": [32, 32]}
    assert policy["activation_fn"] is torch.nn.ReLU
    assert (
        policy["optimizer_class"] is torch.optim.Adam and policy["optimizer_kwargs"]["eps"] == 1e-5
    )


def test_optimizers_map_to_torch_classes_and_lion_is_refused():
    a2c = config_class("a2c")
    rms = baseline.sb3_kwargs("a2c", build_config(a2c, {"rms_alpha": 0.9, "optimizer_eps": 1e-5}))
    assert rms["policy_kwargs"]["optimizer_class"] is torch.optim.RMSprop
    assert rms["policy_kwargs"]["optimizer_kwargs"] == {
        "alpha": 0.9,
        "eps": 1e-5,
        "weight_decay": 0.0,
        "centered": False,
    }
    dqn = config_class("dqn")  # MinAtar's DQN: centered RMSprop, as torch has it
    centered = build_config(dqn, {"optimizer": "rmsprop", "rms_centered": True})
    assert baseline.sb3_kwargs("dqn", centered)["policy_kwargs"]["optimizer_kwargs"]["centered"]
    sgd = baseline.sb3_kwargs(
        "ppo", build_config(config_class("ppo"), {"optimizer": "momentum", "momentum": 0.8})
    )
    assert sgd["policy_kwargs"]["optimizer_class"] is torch.optim.SGD
    assert sgd["policy_kwargs"]["optimizer_kwargs"]["momentum"] == 0.8
    with pytest.raises(BadInput, match="lion"):
        baseline.sb3_kwargs("ppo", build_config(config_class("ppo"), {"optimizer": "lion"}))


@pytest.mark.parametrize(
    "argv,message",
    [
        (["baseline", "reinforce", "CartPole-v1"], "no REINFORCE"),
        (["baseline", "value-iteration", "FrozenLake-v1"], "no planners"),
        (["baseline", "dqn", "CartPole-v1", "double_q=true"], "cannot honour double_q=True"),
        (["baseline", "dqn", "CartPole-v1", "prioritized=true"], "cannot honour prioritized=True"),
        (["baseline", "ppo", "CartPole-v1", "optimizer=lion"], "optimizer=lion"),
        (["baseline", "ppo", "CartPole-v1", "precision=bf16"], "cannot honour precision='bf16'"),
        (["baseline", "ppo", "CartPole-v1", "gama=0.9"], "did you mean 'gamma'"),
        (["baseline", "ppo", "CartPole-v1", "--seeds", "3-1"], "--seeds"),
        (["baseline", "ppo", "MinAtar/Breakout-v1"], "too small for the Nature CNN"),
        (["train", "ppo", "MinAtar/Breakout-v1"], "too small for the Nature CNN"),
        (["train", "a2c", "MinAtar/Breakout-v1"], "too small for the Nature CNN"),
        (["train", "reinforce", "MinAtar/Breakout-v1"], "too small for the Nature CNN"),
        (["train", "recurrent-ppo", "MinAtar/Breakout-v1"], "too small for the Nature CNN"),
    ],
)
def test_baseline_bad_input_exits_2_and_writes_nothing(cli, tmp_path, argv, message):
    code, _, err = cli(*argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []


PPO_ARGS = ("total_steps=2048", "eval_interval=1024", "eval_episodes=3", "log_interval=512")


def test_baseline_matches_sb3_called_directly(cli, tmp_path):
    """The same config through ``rlkit baseline`` and through SB3 by hand: same eval returns."""
    code, _, err = cli(
        "baseline", "ppo", "CartPole-v1", *PPO_ARGS, "--wandb", "disabled", "--run-dir", "b"
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["implementation"] == "sb3" and summary["total_steps"] == 2048

    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from rlkit.envs import make_env
    from rlkit.evaluation import evaluate
    from rlkit.seeding import make_rngs

    # configs/ppo/CartPole-v1.yaml written out as SB3 arguments
    venv = DummyVecEnv([lambda: make_env("CartPole-v1", train=True)] * 8)
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=lambda rem: rem * 0.001,
        clip_range=lambda rem: rem * 0.2,
        seed=0,
        device="cpu",
        policy_kwargs={"optimizer_kwargs": {"eps": 1e-5}},
    )
    model.learn(2048)
    result = evaluate(
        lambda obs: int(model.predict(obs, deterministic=True)[0]),
        lambda: make_env("CartPole-v1"),
        3,
        seed=make_rngs(0, seed_globals=False).eval_seed,
    )
    assert summary["eval/mean_return"] == pytest.approx(result.mean)
    assert summary["eval/std_return"] == pytest.approx(result.std)
    rows = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/mean_return" in r]
    assert [r["step"] for r in evals] == [1024, 2048]  # same evaluation steps as rlkit's PPO
    assert any("train/policy_loss" in r and "train/entropy" in r for r in rows)
    assert any("rollout/ep_return" in r for r in rows)


@pytest.mark.parametrize(
    "algo,env_id,args",
    [
        ("dqn", "CartPole-v1", ("total_steps=600", "learning_starts=100", "eval_interval=300")),
        ("a2c", "CartPole-v1", ("total_steps=800", "eval_interval=400")),
        ("recurrent-ppo", "rlkit/CartPoleNoVel-v1", ("total_steps=512", "eval_interval=256")),
        (
            "ppo",
            "Pendulum-v1",
            (
                "total_steps=512",
                "n_steps=128",
                "batch_size=64",
                "n_envs=2",
                "normalize_obs=true",
                "eval_interval=256",
            ),
        ),
    ],
)
def test_eval_of_a_baseline_checkpoint_reproduces_its_training_evaluation(
    cli, tmp_path, algo, env_id, args
):
    code, _, err = cli(
        "baseline", algo, env_id, *args, "eval_episodes=2", "--wandb", "disabled", "--run-dir", "b"
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    code, out, err = cli("eval", "b")
    assert code == 0, err
    assert "(sb3)" in out
    evaluation = json.loads((tmp_path / "b" / "eval.json").read_text())
    assert evaluation["implementation"] == "sb3"
    assert evaluation["eval/mean_return"] == pytest.approx(summary["eval/mean_return"])
    checkpoint = torch.load(tmp_path / "b" / "checkpoints" / "latest.pt", weights_only=True)
    assert checkpoint["implementation"] == "sb3" and "policy" in checkpoint
    normalized = checkpoint["config"]["normalize_obs"] if algo != "dqn" else False
    assert normalized == (
        "normalize_obs=true" in args or algo == "recurrent-ppo"
    )  # the NoVel config sets it
    assert (checkpoint["obs_rms"] is not None) == normalized


def test_stochastic_eval_reproduces_a_sampling_training_evaluation(cli, tmp_path):
    code, _, err = cli(
        "train",
        "ppo",
        "CartPole-v1",
        "total_steps=1024",
        "eval_episodes=3",
        "deterministic=false",
        "--wandb",
        "disabled",
        "--run-dir",
        "r",
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    code, out, err = cli("eval", "r", "--stochastic")
    assert code == 0 and "sampled" in out, err
    sampled = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert sampled["eval/mean_return"] == pytest.approx(summary["eval/mean_return"])
    assert sampled["deterministic"] is False
    code, _, err = cli("eval", "r")
    greedy = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert code == 0 and greedy["deterministic"] is True
    assert np.isfinite(greedy["eval/mean_return"])


@pytest.mark.parametrize("network", ["young-tian", "dopamine"])
def test_the_baseline_on_minatar_learns_with_rlkits_minatar_network(cli, tmp_path, network):
    """SB3's DQN on MinAtar's 10x10 planes (too small for its Nature CNN) gets rlkit's
    MinAtar network as its features extractor and the head straight on it: the same
    layers and parameter count as rlkit's DQN for the same config; it trains, saves and
    evaluates from its checkpoint."""
    from rlkit.agents.dqn import Config, QNetwork
    from rlkit.envs import make_env
    from rlkit.nn import MinAtarCNN

    overrides = ["minatar_hidden=0", "minatar_padding=1"] if network == "dopamine" else []
    config = Config(
        minatar_hidden=0 if network == "dopamine" else 128,
        minatar_padding=1 if network == "dopamine" else 0,
    )
    env = make_env("MinAtar/Breakout-v1")
    model = baseline.make_model(
        "dqn", config, lambda **k: make_env("MinAtar/Breakout-v1", **k), seed=0
    )
    extractor = model.policy.q_net.features_extractor
    assert isinstance(extractor.net, MinAtarCNN)
    ours = QNetwork(env.observation_space.shape, 3, config, torch.Generator().manual_seed(0))
    theirs = model.policy.q_net
    count = sum(p.numel() for p in theirs.parameters())
    assert count == sum(p.numel() for p in ours.parameters())
    assert count == (4 * 9 * 16 + 16) + (
        (1600 * 3 + 3) if network == "dopamine" else (1024 * 128 + 128) + (128 * 3 + 3)
    )
    code, _, err = cli(
        "baseline",
        "dqn",
        "MinAtar/Breakout-v1",
        *overrides,
        "total_steps=300",
        "learning_starts=100",
        "eval_episodes=1",
        "--run-dir",
        "b",
        "--wandb",
        "disabled",
    )
    assert code == 0, err
    code, out, err = cli("eval", "b", "--episodes", "2")
    assert code == 0 and "over 2 episodes" in out, err
