"""DQN's distributional options (``distributional: c51 | qr``): targets and losses by hand,
every combination with double Q, dueling, n-step and prioritized replay, the learned
return distributions of a slippery chain against their dynamic-programming fixed points,
and bad input."""

from __future__ import annotations

import math

import pytest
import torch

import rlkit
from rlkit.agents.dqn import Config, QNetwork, bellman_targets
from rlkit.data.replay import Batch
from rlkit.distributional import (
    atoms,
    categorical_evaluation,
    cramer_distance,
    quantile_evaluation,
    wasserstein1,
)
from rlkit.envs import TabularMDP, make_env
from rlkit.losses import categorical_loss, quantile_huber_loss
from rlkit.nn.passes import QOutputs


def batch_of(next_obs: torch.Tensor, rewards, dones, discounts) -> Batch:
    n = len(next_obs)
    t = torch.tensor
    return Batch(
        obs=next_obs,
        actions=torch.zeros(n, dtype=torch.int64),
        rewards=t(rewards),
        next_obs=next_obs,
        dones=t(dones),
        discounts=t(discounts),
        weights=torch.ones(n),
        indices=torch.arange(n).numpy(),
    )


def test_c51_target_is_the_projected_shifted_distribution_of_the_greedy_action():
    config = Config(distributional="c51", n_atoms=3, v_min=0.0, v_max=2.0, net_arch=(8,))
    net = QNetwork((2,), 2, config, torch.Generator().manual_seed(0))
    # the target network's distributions for one next state: action 1 is greedy (mean 1.5)
    fixed = torch.log(torch.tensor([[[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]]))
    net.distribution = lambda obs: fixed.expand(len(obs), -1, -1)  # type: ignore[method-assign]
    obs = torch.zeros(2, 2)
    targets = bellman_targets(net, net, batch_of(obs, [0.5, 0.5], [0.0, 1.0], [0.5, 0.5]), False)
    # sample 0: 0.5 + 0.5 * {1, 2} = {1, 1.5}: mass 0.5 on atom 1, 0.5 split between 1 and 2
    assert torch.allclose(targets[0], torch.tensor([0.0, 0.75, 0.25]))
    # sample 1 ended: all mass at the reward 0.5, between atoms 0 and 1
    assert torch.allclose(targets[1], torch.tensor([0.5, 0.5, 0.0]))


def test_qr_target_is_the_shifted_quantiles_and_double_q_lets_the_online_net_choose():
    config = Config(distributional="qr", n_quantiles=2, net_arch=(8,))
    online = QNetwork((2,), 2, config, torch.Generator().manual_seed(0))
    target = QNetwork((2,), 2, config, torch.Generator().manual_seed(1))
    target.distribution = lambda obs: torch.tensor([[[0.0, 2.0], [1.0, 2.0]]]).expand(  # type: ignore[method-assign]
        len(obs), -1, -1
    )
    online.forward = lambda obs: torch.tensor([[5.0, 0.0]]).expand(len(obs), -1)  # type: ignore[method-assign]
    batch = batch_of(torch.zeros(1, 2), [1.0], [0.0], [0.9])
    assert torch.allclose(bellman_targets(online, target, batch, False), torch.tensor([[1.9, 2.8]]))
    # double Q: the online net picks action 0, the target values it
    assert torch.allclose(bellman_targets(online, target, batch, True), torch.tensor([[1.0, 2.8]]))


def test_losses_by_hand():
    support = torch.tensor([0.0, 1.0])
    log_p = torch.log(torch.tensor([[0.25, 0.75]])).requires_grad_()
    target = torch.tensor([[0.5, 0.5]])
    loss = categorical_loss(QOutputs(log_p), target, None, support)
    assert float(loss.value.detach()) == pytest.approx(
        -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))
    )
    assert float(loss.parts["q"][0]) == pytest.approx(0.75)
    # one quantile (tau 0.5) against a target 2 above it: 0.5 * huber(2) = 0.5 * 1.5
    theta = torch.tensor([[0.0]], requires_grad=True)
    loss = quantile_huber_loss(QOutputs(theta), torch.tensor([[2.0]]), None)
    assert float(loss.value.detach()) == pytest.approx(0.75)
    loss.value.backward()
    assert float(theta.grad) == pytest.approx(-0.5)  # pulled up at rate tau * kappa
    # prioritized weights scale each sample
    weighted = quantile_huber_loss(
        QOutputs(theta.detach()), torch.tensor([[2.0]]), torch.tensor([2.0])
    )
    assert float(weighted.value) == pytest.approx(1.5)


RAINBOW = {"double_q": True, "dueling": True, "n_step": 3, "prioritized": True}
NOISY = {"noisy": True, "exploration_initial_eps": 0.0, "exploration_final_eps": 0.0}


@pytest.mark.parametrize("kind", ["c51", "qr"])
@pytest.mark.parametrize("extras", [{}, RAINBOW, {**RAINBOW, **NOISY}])
def test_every_combination_trains_and_acts(kind, extras):
    settings = {"v_min": 0.0, "v_max": 100.0} if kind == "c51" else {"n_quantiles": 8}
    rows = []
    agent = rlkit.train(
        "dqn",
        "CartPole-v1",
        seed=0,
        run_dir=None,
        callback=rows.append,
        total_steps=600,
        learning_starts=200,
        eval_episodes=1,
        log_interval=200,
        distributional=kind,
        **settings,
        **extras,
    )
    losses = [r["train/loss"] for r in rows if "train/loss" in r]
    assert losses and all(math.isfinite(v) for v in losses)
    q = agent.policy(torch.zeros(3, 4))
    assert q.shape == (3, 2)
    dist = agent.policy.distribution(torch.zeros(3, 4))
    assert dist.shape == (3, 2, 51 if kind == "c51" else 8)
    if kind == "c51":  # probabilities, and Q their mean on the support
        assert torch.allclose(dist.exp().sum(-1), torch.ones(3, 2), atol=1e-5)
        assert torch.allclose(q, dist.exp() @ agent.policy.support, atol=1e-5)


SLIPPERY = dict(
    env_kwargs={"slip": 0.1},
    total_steps=15000,
    learning_starts=500,
    buffer_size=10000,
    learning_rate=1e-3,
    net_arch=(64, 64),
    gamma=0.9,
    target_update_interval=200,
    train_freq=1,
    batch_size=64,
    exploration_fraction=0.3,
    exploration_final_eps=0.3,
    eval_interval=0,
    eval_episodes=2,
)


def slippery_chain() -> TabularMDP:
    return TabularMDP.from_env(make_env("rlkit/Chain-v0", one_hot=False, slip=0.1))


@pytest.mark.slow
def test_c51_learns_the_fixed_point_of_the_slippery_chain():
    """The distributions C51 learns from samples against the fixed point of the projected
    control operator (``categorical_evaluation``), state-action by state-action, in Cramer
    distance. Tolerance 0.05: on a support of width 1, l2 <= eps bounds the means' gap by
    sqrt(width) * eps = 0.05 (Cauchy-Schwarz on int (F - G)), and the shape too; measured
    about 0.02 after 8k steps."""
    agent = rlkit.train(
        "dqn",
        "rlkit/Chain-v0",
        seed=0,
        run_dir=None,
        distributional="c51",
        v_min=0.0,
        v_max=1.0,
        n_atoms=51,
        **SLIPPERY,
    )
    support = atoms(0.0, 1.0, 51, dtype=torch.float64)
    eta = categorical_evaluation(slippery_chain().transitions(), 0.9, support, None, tol=1e-13)
    with torch.no_grad():
        learned = agent.policy.distribution(torch.eye(6)).double().exp()
    distances = [
        cramer_distance(support, learned[s, a], support, eta[s, a])
        for s in range(6)
        for a in range(2)
    ]
    assert max(distances) <= 0.05


@pytest.mark.slow
def test_qr_learns_the_quantiles_of_the_slippery_chain():
    """QR-DQN's learned quantiles against the fixed point of the projected quantile control
    operator, in 1-Wasserstein distance: tolerance 0.1 bounds the means' gap by 0.1 (W1
    bounds a difference of means); measured about 0.07 with 20 quantiles after 8k steps."""
    n = 20
    agent = rlkit.train(
        "dqn",
        "rlkit/Chain-v0",
        seed=0,
        run_dir=None,
        distributional="qr",
        n_quantiles=n,
        **SLIPPERY,
    )
    theta = quantile_evaluation(slippery_chain().transitions(), 0.9, n, None, tol=1e-13)
    with torch.no_grad():
        learned = agent.policy.distribution(torch.eye(6)).double()
    equal = torch.full((n,), 1.0 / n, dtype=torch.float64)
    distances = [
        wasserstein1(learned[s, a], equal, theta[s, a], equal) for s in range(6) for a in range(2)
    ]
    assert max(distances) <= 0.1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dqn", "CartPole-v1", "distributional=c51", "v_min=5", "v_max=5"], "v_max=5"),
        (["dqn", "CartPole-v1", "distributional=c51", "n_atoms=1"], "n_atoms=1"),
        (["dqn", "CartPole-v1", "distributional=qr", "n_quantiles=0"], "n_quantiles=0"),
        (["dqn", "CartPole-v1", "distributional=iqn"], "distributional"),
        (["ppo", "CartPole-v1", "distributional=c51"], "distributional"),
        (["dqn", "MinAtar/Breakout-v1", "minatar_hidden=-1"], "minatar_hidden=-1"),
        (["dqn", "MinAtar/Breakout-v1", "minatar_padding=2"], "minatar_padding=2"),
    ],
)
def test_bad_distributional_input_is_one_line_exit_2(cli, tmp_path, args, message):
    code, _, err = cli("train", *args, "--wandb", "disabled")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_the_baseline_runs_sb3_contribs_qr_dqn_and_refuses_c51(cli, tmp_path):
    from sb3_contrib import QRDQN

    from rlkit.sb3 import model_class, sb3_kwargs

    config = Config(distributional="qr", n_quantiles=10)
    assert model_class("dqn", config) is QRDQN
    assert sb3_kwargs("dqn", config)["policy_kwargs"]["n_quantiles"] == 10
    assert "n_quantiles" not in sb3_kwargs("dqn", Config())["policy_kwargs"]
    # rlkit's max_grad_norm 0 (no clipping): None for QR-DQN, inf for SB3's DQN (never 0)
    assert sb3_kwargs("dqn", Config(distributional="qr", max_grad_norm=0))["max_grad_norm"] is None
    assert sb3_kwargs("dqn", Config(max_grad_norm=0))["max_grad_norm"] == float("inf")
    code, _, err = cli(
        "baseline", "dqn", "CartPole-v1", "distributional=c51", "--wandb", "disabled"
    )
    assert code == 2 and "cannot honour distributional='c51'" in err
    assert list(tmp_path.iterdir()) == []
    code, _, err = cli(
        "baseline",
        "dqn",
        "CartPole-v1",
        "distributional=qr",
        "n_quantiles=5",
        "total_steps=600",
        "learning_starts=200",
        "eval_episodes=1",
        "--run-dir",
        "q",
        "--wandb",
        "disabled",
    )
    assert code == 0, err
    checkpoint = torch.load(tmp_path / "q" / "checkpoints" / "latest.pt", weights_only=True)
    assert any(key.startswith("quantile_net") for key in checkpoint["policy"])
    code, _, err = cli("eval", "q", "--episodes", "1")
    assert code == 0, err


def test_noisy_linear_is_factorised_gaussian_noise_on_learned_weights():
    from rlkit.nn import NoisyLinear

    layer = NoisyLinear(4, 3, sigma0=0.5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(layer.weight_sigma, torch.full((3, 4), 0.25))  # sigma0 / sqrt(4)
    assert float(layer.weight_mu.detach().abs().max()) <= 0.5
    # the weight noise is the outer product of f(eps_out) and f(eps_in): rank one
    assert torch.linalg.matrix_rank(layer.weight_epsilon) == 1
    assert torch.allclose(
        layer.weight_epsilon[:, 0] / layer.weight_epsilon[0, 0],
        layer.bias_epsilon / layer.bias_epsilon[0],
    )
    x = torch.randn(5, 4)
    want = x @ (layer.weight_mu + layer.weight_sigma * layer.weight_epsilon).T + (
        layer.bias_mu + layer.bias_sigma * layer.bias_epsilon
    )
    assert torch.allclose(layer(x), want)
    layer.eval()  # the mean in eval mode
    assert torch.allclose(layer(x), x @ layer.weight_mu.T + layer.bias_mu)
    layer.train()
    before = layer.weight_epsilon.clone()
    layer.reset_noise(torch.Generator().manual_seed(1))
    assert not torch.equal(before, layer.weight_epsilon)
    again = NoisyLinear(4, 3, generator=torch.Generator().manual_seed(0))
    again.reset_noise(torch.Generator().manual_seed(1))
    assert torch.equal(again.weight_epsilon, layer.weight_epsilon)  # the generator decides
    layer(x).sum().backward()  # both the means and the noise scales learn
    assert layer.weight_mu.grad is not None and float(layer.weight_sigma.grad.abs().sum()) > 0


def test_a_networks_noise_comes_from_one_draw_split_layer_by_layer():
    """``reset_noise`` of a network with several noisy layers draws every factor at once:
    ``f`` of one vector of standard normals, split into each layer's ``f(eps_in)`` and
    ``f(eps_out)`` in order; a layer alone draws its own."""
    from rlkit.nn import NoisyLinear, reset_noise

    net = torch.nn.Sequential(NoisyLinear(5, 3), torch.nn.ReLU(), NoisyLinear(3, 2))
    reset_noise(net, torch.Generator().manual_seed(7))
    z = torch.randn(5 + 3 + 3 + 2, generator=torch.Generator().manual_seed(7))
    f = z.sign() * z.abs().sqrt()
    first, last = net[0], net[2]
    assert torch.equal(first.input_epsilon, f[:5]) and torch.equal(first.bias_epsilon, f[5:8])
    assert torch.equal(last.input_epsilon, f[8:11]) and torch.equal(last.bias_epsilon, f[11:])
    lone = torch.nn.Sequential(NoisyLinear(5, 3))
    twin = NoisyLinear(5, 3)
    reset_noise(lone, torch.Generator().manual_seed(7))
    twin.reset_noise(torch.Generator().manual_seed(7))
    assert torch.equal(lone[0].weight_epsilon, twin.weight_epsilon)


def test_noisy_linear_acts_on_one_row_through_the_factors_as_a_batch_does():
    from rlkit.nn import NoisyLinear

    layer = NoisyLinear(16, 7, generator=torch.Generator().manual_seed(0))
    rows = torch.randn(5, 16)
    batch = layer(rows)  # the noisy weights built, then one product
    weight = layer.weight_mu + layer.weight_sigma * layer.weight_epsilon
    bias = layer.bias_mu + layer.bias_sigma * layer.bias_epsilon
    assert torch.equal(batch, torch.nn.functional.linear(rows, weight, bias))
    for i in range(5):  # one row at a time: mu x + f(eps_out) * (sigma (f(eps_in) * x))
        for one in (rows[i], rows[i : i + 1]):
            assert torch.allclose(layer(one).reshape(-1), batch[i], atol=1e-6)
    # the same gradients through the factors as through the built weights
    x = rows[:1].clone().requires_grad_(True)
    params = [x, layer.weight_mu, layer.weight_sigma, layer.bias_mu, layer.bias_sigma]
    factored = torch.autograd.grad(layer(x).square().sum(), params)
    built = torch.autograd.grad(torch.nn.functional.linear(x, weight, bias).square().sum(), params)
    for a, b in zip(factored, built, strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_noisy_linear_loads_a_state_dict_that_kept_the_noise_matrix():
    from rlkit.nn import NoisyLinear

    layer = NoisyLinear(6, 4, generator=torch.Generator().manual_seed(0))
    state = layer.state_dict()
    assert "input_epsilon" in state and "weight_epsilon" not in state
    # the layout of checkpoints written before 2026-12-06: the matrix, no input factor
    old = {k: v.clone() for k, v in state.items() if k != "input_epsilon"}
    old["weight_epsilon"] = torch.outer(state["bias_epsilon"], state["input_epsilon"])
    again = NoisyLinear(6, 4, generator=torch.Generator().manual_seed(5))
    again.load_state_dict(old)  # strict: no key left over, none missing
    assert torch.allclose(again.input_epsilon, layer.input_epsilon, rtol=1e-6)
    assert torch.equal(again.bias_epsilon, layer.bias_epsilon)
    x = torch.randn(3, 6)
    assert torch.allclose(again(x), layer(x), atol=1e-6)
    again.load_state_dict(state)  # and its own layout, exactly
    assert torch.equal(again(x), layer(x))


def test_noisy_nets_explore_without_epsilon():
    rows = []
    agent = rlkit.train(
        "dqn",
        "CartPole-v1",
        seed=0,
        run_dir=None,
        callback=rows.append,
        total_steps=600,
        learning_starts=200,
        eval_episodes=1,
        log_interval=200,
        noisy=True,
        exploration_initial_eps=0.0,
        exploration_final_eps=0.0,
        distributional="qr",
        n_quantiles=8,
        dueling=True,
    )
    assert all(r["train/epsilon"] == 0.0 for r in rows if "train/epsilon" in r)
    assert any("noisy" in type(m).__name__.lower() for m in agent.policy.modules())
    code_default = Config(noisy=True)  # DQN's default schedule is left alone: allowed
    assert code_default.noisy


def test_noisy_with_a_users_epsilon_schedule_is_refused(cli, tmp_path):
    code, _, err = cli("train", "dqn", "CartPole-v1", "noisy=true", "--wandb", "disabled")
    assert code == 2 and "noisy nets explore through their weights" in err
    assert len(err.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_every_dqn_config_and_preset_loads():
    from pathlib import Path

    from rlkit.config import load_config

    folder = Path(__file__).resolve().parents[2] / "configs" / "dqn"
    presets = sorted(folder.glob("*.yaml"))
    assert {p.name for p in presets} >= {"CartPole-v1.qr.yaml", "CartPole-v1.rainbow.yaml"}
    names = {p.name for p in presets}
    for path in presets:
        config, _ = load_config(Config, path)
        if ".rainbow." in path.name:
            assert config.distributional == "c51" and config.noisy and config.prioritized
            assert config.double_q and config.dueling and config.n_step == 3
        if ".qr." in path.name:
            assert config.distributional == "qr" and not config.noisy
        atari = path.name.endswith("-v4.yaml") or path.name.startswith("ALE-")
        if atari and path.name.count(".") == 1:  # every Atari DQN config has a QR preset:
            # rl-zoo's "atari" QR-DQN entry (200 quantiles, lr 5e-5, 2.5% exploration)
            qr, _ = load_config(Config, folder / path.name.replace(".yaml", ".qr.yaml"))
            assert qr.n_quantiles == 200 and qr.learning_rate == 5e-5
            assert qr.exploration_fraction == 0.025 and qr.frame_stack == 4
    assert "PongNoFrameskip-v4.qr.yaml" in names


def test_qr_presets_carry_sb3_contribs_adam_epsilon():
    """rl-zoo's QR-DQN entries leave the optimizer to sb3-contrib, which sets Adam's epsilon
    to 0.01 / batch_size (the QR-DQN paper's 0.01 / 32). ``rlkit baseline`` passes the
    config's optimizer to SB3, so each preset must write that epsilon out for both sides to
    run what the zoo ran."""
    from pathlib import Path

    from sb3_contrib import QRDQN

    from rlkit.config import load_config
    from rlkit.sb3 import sb3_kwargs

    folder = Path(__file__).resolve().parents[2] / "configs" / "dqn"
    presets = sorted(folder.glob("*.qr.yaml"))
    assert len(presets) >= 7
    for path in presets:
        config, _ = load_config(Config, path)
        zoo = QRDQN(
            "MlpPolicy", "CartPole-v1", batch_size=config.batch_size, _init_setup_model=False
        )
        eps = zoo.policy_kwargs["optimizer_kwargs"]["eps"]
        assert config.optimizer == "adam" and config.optimizer_eps == pytest.approx(eps, rel=1e-12)
        assert sb3_kwargs("dqn", config)["policy_kwargs"]["optimizer_kwargs"]["eps"] == eps


def test_classic_control_qr_presets_are_the_zoos_dqn_values_with_quantiles():
    """rl-zoo's tuned QR-DQN entries for Acrobot-v1 and MountainCar-v0 repeat its DQN entries
    but for 25 quantiles, so each QR preset is the env's DQN config plus ``distributional:
    qr``, the quantiles and sb3-contrib's QR-DQN defaults (no clipping, Adam's epsilon 0.01 /
    batch_size), and ``rlkit baseline`` hands SB3 the same learning schedule from both."""
    from dataclasses import asdict
    from pathlib import Path

    from rlkit.config import load_config
    from rlkit.sb3 import sb3_kwargs

    folder = Path(__file__).resolve().parents[2] / "configs" / "dqn"
    for env_id in ("Acrobot-v1", "MountainCar-v0"):
        dqn, _ = load_config(Config, folder / f"{env_id}.yaml")
        qr, _ = load_config(Config, folder / f"{env_id}.qr.yaml")
        a, b = asdict(dqn), asdict(qr)
        assert {k for k in a if a[k] != b[k]} == {
            "distributional",
            "n_quantiles",
            "max_grad_norm",
            "optimizer_eps",
        }
        assert qr.n_quantiles == 25 and qr.max_grad_norm == 0
        assert qr.optimizer_eps == pytest.approx(0.01 / qr.batch_size)
        ours, theirs = sb3_kwargs("dqn", dqn), sb3_kwargs("dqn", qr)
        for key in ("train_freq", "gradient_steps", "target_update_interval", "batch_size"):
            assert ours[key] == theirs[key] == getattr(dqn, key)
    # the zoo's gradient_steps -1 on Acrobot: a gradient step per env step with one env
    acrobot, _ = load_config(Config, folder / "Acrobot-v1.yaml")
    assert acrobot.gradient_steps == acrobot.train_freq == 4


def test_the_qr_nstep_preset_is_the_zoos_plus_dqns_two_settings_and_sb3_runs_them():
    """``CartPole-v1.qr-nstep.yaml`` differs from the zoo preset in the two settings DQN's
    CartPole config adds (3-step returns, a linearly decaying learning rate), and the
    baseline hands both to sb3-contrib's QR-DQN."""
    from dataclasses import asdict
    from pathlib import Path

    from rlkit.config import load_config
    from rlkit.sb3 import sb3_kwargs

    folder = Path(__file__).resolve().parents[2] / "configs" / "dqn"
    zoo, _ = load_config(Config, folder / "CartPole-v1.qr.yaml")
    nstep, _ = load_config(Config, folder / "CartPole-v1.qr-nstep.yaml")
    dqn, _ = load_config(Config, folder / "CartPole-v1.yaml")
    a, b = asdict(zoo), asdict(nstep)
    assert {k for k in a if a[k] != b[k]} == {"learning_rate", "n_step"}
    assert (nstep.learning_rate, nstep.n_step) == (dqn.learning_rate, dqn.n_step)
    kwargs = sb3_kwargs("dqn", nstep)
    assert kwargs["n_steps"] == 3
    rate = kwargs["learning_rate"]  # SB3's progress_remaining: 1 at the start, 0 at the end
    assert rate(1.0) == pytest.approx(2.3e-3) and rate(0.5) == pytest.approx(1.15e-3)
