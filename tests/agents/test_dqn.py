import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import rlkit
from rlkit.agents.dqn import (
    Config,
    QNetwork,
    acts_in_bf16,
    double_q_target,
    dqn_loss,
    dueling_q,
    epsilon_at,
    loss_of,
    q_model,
    quantile_means,
    td_target,
    update_target,
)
from rlkit.bellman import q_values, value_iteration
from rlkit.checkpoint import load_checkpoint
from rlkit.data import ReplayBuffer
from rlkit.envs import TabularMDP, make_env
from rlkit.losses import quantile_huber_loss
from rlkit.nn.backprop import NumpyForward
from rlkit.nn.noisy import reset_noise
from rlkit.nn.passes import AutogradQ, NumpyHeadsQ, QOutputs, WrittenOutHeadsQ, WrittenOutQ


def test_td_target_by_hand():
    rewards = torch.tensor([1.0, 0.5, 2.0])
    next_q = torch.tensor([[1.0, 3.0], [2.0, -1.0], [5.0, 4.0]])
    dones = torch.tensor([0.0, 0.0, 1.0])
    discounts = torch.tensor([0.9, 0.81, 0.9])
    assert td_target(rewards, next_q, dones, discounts).tolist() == pytest.approx(
        [1 + 0.9 * 3, 0.5 + 0.81 * 2, 2.0]
    )


def test_double_q_target_uses_online_argmax_and_target_value():
    rewards = torch.tensor([0.0, 1.0])
    online = torch.tensor([[1.0, 2.0], [3.0, 0.0]])  # picks actions 1 and 0
    target = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    out = double_q_target(rewards, online, target, torch.zeros(2), torch.full((2,), 0.5))
    assert out.tolist() == [0.5 * 20.0, 1.0 + 0.5 * 30.0]  # plain DQN would use 20 and 40


def test_dueling_head_by_hand():
    value = torch.tensor([[1.0], [0.0]])
    advantage = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]])
    assert dueling_q(value, advantage).tolist() == [[0.0, 1.0, 2.0], [-1.0, -1.0, 2.0]]
    net = QNetwork((4,), 3, Config(dueling=True), torch.Generator().manual_seed(0))
    x = torch.randn(5, 4)
    q = net(x)
    assert q.shape == (5, 3)
    # the mean over actions of Q is the value stream
    assert torch.allclose(q.mean(dim=1), net.value(net.torso(x)).squeeze(1), atol=1e-6)


def test_n_step_target_from_hand_written_transitions():
    buffer = ReplayBuffer(10, (1,), np.float32, n_step=3, gamma=0.5)
    for t, r in enumerate([1.0, 2.0, 4.0, 8.0]):
        buffer.add([t], 0, r, False, False, [t + 1])
    batch = buffer._gather(np.array([0]), np.ones(1, np.float32))
    next_q = torch.tensor([[10.0, 6.0]])  # Q_target(s_3, .)
    y = td_target(batch.rewards, next_q, batch.dones, batch.discounts)
    assert y.item() == pytest.approx(1 + 0.5 * 2 + 0.25 * 4 + 0.125 * 10)
    assert batch.next_obs.item() == 3.0


def test_loss_is_the_huber_of_the_taken_action():
    net = QNetwork((2,), 2, Config(net_arch=(4,)), torch.Generator().manual_seed(0))
    obs = torch.randn(3, 2)
    actions = torch.tensor([0, 1, 1])
    q = net(obs).detach()
    targets = q.gather(1, actions[:, None]).squeeze(1) + torch.tensor([0.5, -3.0, 0.0])
    model = AutogradQ(net)
    loss = dqn_loss(model(obs, actions), targets, None)
    assert loss.value.item() == pytest.approx((0.5 * 0.25 + 2.5 + 0.0) / 3, rel=1e-5)
    assert loss.parts["td_errors"].tolist() == pytest.approx([-0.5, 3.0, 0.0], abs=1e-6)
    # d loss / d Q: the error clipped to [-1, 1], over the batch size
    assert loss.grads["q"].tolist() == pytest.approx([-0.5 / 3, 1 / 3, 0.0], abs=1e-6)
    weighted = dqn_loss(model(obs, actions), targets, torch.tensor([2.0, 0.0, 1.0]))
    assert weighted.value.item() == pytest.approx(2 * 0.125 / 3, rel=1e-5)


def test_target_update_hard_and_polyak():
    a = QNetwork((2,), 2, Config(net_arch=(3,)), torch.Generator().manual_seed(0))
    b = QNetwork((2,), 2, Config(net_arch=(3,)), torch.Generator().manual_seed(1))
    before = [p.clone() for p in b.parameters()]
    update_target(a, b, 0.25)
    for pa, pb, p0 in zip(a.parameters(), b.parameters(), before, strict=True):
        assert torch.allclose(pb, 0.75 * p0 + 0.25 * pa)
    update_target(a, b, 1.0)
    assert all(torch.equal(pa, pb) for pa, pb in zip(a.parameters(), b.parameters(), strict=True))


def test_epsilon_schedule_and_nature_cnn_q_network():
    config = Config(total_steps=1000, exploration_fraction=0.1, exploration_final_eps=0.01)
    assert epsilon_at(config, 0) == 1.0 and epsilon_at(config, 50) == pytest.approx(0.505)
    assert epsilon_at(config, 100) == pytest.approx(0.01) and epsilon_at(
        config, 999
    ) == pytest.approx(0.01)
    net = QNetwork((4, 84, 84), 6, Config(), torch.Generator().manual_seed(0))
    assert net(torch.zeros(2, 4, 84, 84, dtype=torch.uint8)).shape == (2, 6)


CHAIN = [
    "train",
    "dqn",
    "rlkit/Chain-v0",
    "total_steps=15000",
    "learning_starts=500",
    "buffer_size=10000",
    "learning_rate=1e-3",
    "net_arch=[64, 64]",
    "gamma=0.9",
    "target_update_interval=200",
    "train_freq=1",
    "batch_size=64",
    "exploration_fraction=0.3",
    "exploration_final_eps=0.3",
    "eval_interval=0",
    "eval_episodes=5",
    "--wandb",
    "disabled",
    "--run-dir",
    "chain",
]


@pytest.mark.slow  # a learning test (about 70 s on 2 cores): .ci/run runs it
def test_dqn_learns_the_exact_q_star_of_a_chain(cli, tmp_path):
    code, _, err = cli(*CHAIN)
    assert code == 0, err
    # the exact answer from rlkit's planner on the same MDP
    model = TabularMDP.from_env(make_env("rlkit/Chain-v0", one_hot=False)).model()
    q_star = q_values(model, value_iteration(model, 0.9, tol=1e-12).values, 0.9)
    ckpt = load_checkpoint(tmp_path / "chain" / "checkpoints" / "latest.pt")
    env = make_env("rlkit/Chain-v0")
    net = QNetwork(env.observation_space.shape, 2, Config(net_arch=(64, 64)), torch.Generator())
    net.load_state_dict(ckpt["q_net"])
    with torch.no_grad():
        learned = net(torch.eye(6)).double()
    assert float((learned - q_star).abs().max()) <= 0.02 * float(q_star.abs().max())
    summary = json.loads((tmp_path / "chain" / "summary.json").read_text())
    assert summary["eval/mean_return"] == 1.0  # the greedy policy walks right from anywhere


def test_eval_reproduces_the_training_evaluation(cli, tmp_path):
    args = [a for a in CHAIN if not a.startswith("total_steps")] + ["total_steps=2000"]
    code, _, err = cli(*args)
    assert code == 0, err
    summary = json.loads((tmp_path / "chain" / "summary.json").read_text())
    code, _, err = cli("eval", "chain")
    assert code == 0, err
    evaluation = json.loads((tmp_path / "chain" / "eval.json").read_text())
    assert evaluation["eval/mean_return"] == summary["eval/mean_return"]
    assert evaluation["eval/episodes"] == 5


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["Pendulum-v1"],
            "dqn needs a Discrete action space, got Box(shape=(1,), float32); try ppo",
        ),
        (
            ["CartPole-v1", "buffer_size=3000000000"],
            "GB of memory is available; lower buffer_size",
        ),
        (
            ["CartPole-v1", "batch_size=64", "buffer_size=32"],
            "batch_size=64; allowed: at most buffer_size (32)",
        ),
        (["CartPole-v1", "learning_starts=60000", "total_steps=50000"], "learning_starts=60000"),
        (["CartPole-v1", "frame_stack=0"], "frame_stack=0"),
        (["CartPole-v1", "tau=0"], "0 < tau <= 1"),
        (["CartPole-v1", "net_arch=[]"], "net_arch"),
        (["CartPole-v1", "optimizer=adamw"], "allowed: sgd, momentum, adam, rmsprop, lion"),
    ],
)
def test_bad_input(cli, tmp_path, args, message):
    code, _, err = cli("train", "dqn", *args, "--wandb", "disabled")
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cartpole_with_its_config_reaches_475(cli, tmp_path):
    code, _, err = cli(
        "train", "dqn", "CartPole-v1", "--seed", "1", "--wandb", "disabled", "--run-dir", "cp"
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "cp" / "summary.json").read_text())
    assert summary["eval/mean_return"] >= 475


@pytest.mark.parametrize("weighted", [False, True])
def test_written_out_qr_pass_gives_autograd_gradients(weighted):
    config = Config(net_arch=(32, 32), distributional="qr", n_quantiles=7)
    a = QNetwork((4,), 3, config, torch.Generator().manual_seed(0))
    b = QNetwork((4,), 3, config, torch.Generator().manual_seed(0))
    auto, written = q_model(a, replace(config, written_out_backprop=False)), q_model(b, config)
    assert isinstance(auto, AutogradQ) and isinstance(written, WrittenOutQ)
    obs, actions = torch.randn(16, 4), torch.randint(0, 3, (16,))
    targets = torch.randn(16, 7) * 3
    weights = torch.rand(16) if weighted else None
    out_a, out_b = auto(obs, actions), written(obs, actions)
    assert out_b.q.shape == (16, 7) and torch.allclose(out_a.q, out_b.q, atol=1e-6)
    loss_a = quantile_huber_loss(out_a, targets, weights)
    auto.backward(loss_a)
    loss_b = quantile_huber_loss(out_b, targets, weights)
    written.backward(loss_b)
    assert loss_b.value.item() == pytest.approx(loss_a.value.item(), rel=1e-6)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-6)
    # acting through numpy averages each action's quantiles, as the module's forward does
    numpy_q = quantile_means(NumpyForward(written.layers, "relu"), 7)
    assert np.allclose(numpy_q(obs[0].numpy()), b(obs[:1])[0].detach().numpy(), atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_written_out_pass_gives_autograd_gradients(weighted):
    config = Config(net_arch=(32, 32))
    a = QNetwork((4,), 3, config, torch.Generator().manual_seed(0))
    b = QNetwork((4,), 3, config, torch.Generator().manual_seed(0))
    auto, written = AutogradQ(a), q_model(b, config)
    assert isinstance(written, WrittenOutQ)
    obs, actions = torch.randn(16, 4), torch.randint(0, 3, (16,))
    targets = torch.randn(16) * 3
    weights = torch.rand(16) if weighted else None
    loss_a = dqn_loss(auto(obs, actions), targets, weights)
    auto.backward(loss_a)
    loss_b = dqn_loss(written(obs, actions), targets, weights)
    written.backward(loss_b)
    assert loss_b.value.item() == pytest.approx(loss_a.value.item(), rel=1e-6)
    assert torch.allclose(loss_a.parts["td_errors"], loss_b.parts["td_errors"], atol=1e-6)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-6)
    # the loss's own gradient with respect to Q is autograd's
    q = auto(obs, actions).q.detach().requires_grad_()
    loss = dqn_loss(QOutputs(q), targets, weights)
    (expected,) = torch.autograd.grad(loss.value, q)
    assert torch.allclose(loss.grads["q"], expected, atol=1e-7)


@pytest.mark.parametrize("network", ["young-tian", "dopamine"])
@pytest.mark.parametrize("distributional", ["none", "qr"])
def test_written_out_minatar_pass_gives_autograd_gradients(distributional, network):
    """MinAtar's network (a convolution, then the MLP chain) through the written-out pass:
    outputs, loss and every parameter's gradient, the filters' too, as autograd's; also
    for Dopamine's network (a padded convolution, the heads straight on its maps)."""
    dopamine = network == "dopamine"
    config = Config(
        distributional=distributional,
        n_quantiles=5,
        minatar_hidden=0 if dopamine else 128,
        minatar_padding=1 if dopamine else 0,
    )
    shape = (4, 10, 10)  # Breakout's object planes
    a = QNetwork(shape, 3, config, torch.Generator().manual_seed(0))
    b = QNetwork(shape, 3, config, torch.Generator().manual_seed(0))
    # Young & Tian's: 1,024 features from 8x8 maps into 128 units; Dopamine's: 1,600
    # features from 10x10 maps straight into the head
    assert [layer.in_features for layer in b.layer_chain()] == ([1600] if dopamine else [1024, 128])
    auto, written = q_model(a, replace(config, written_out_backprop=False)), q_model(b, config)
    assert isinstance(auto, AutogradQ) and isinstance(written, WrittenOutQ)
    assert written.conv is not None and written.parameters()[0].numel() == sum(
        p.numel() for p in b.parameters()
    )  # one flat buffer, the filters in it
    g = torch.Generator().manual_seed(1)
    obs = (torch.rand(32, *shape, generator=g) < 0.2).to(torch.uint8)
    actions = torch.randint(0, 3, (32,), generator=g)
    weights = torch.rand(32, generator=g)
    if distributional == "qr":
        targets = torch.randn(32, 5, generator=g)
        loss_a = quantile_huber_loss(out_a := auto(obs, actions), targets, weights)
        loss_b = quantile_huber_loss(out_b := written(obs, actions), targets, weights)
    else:
        targets = torch.randn(32, generator=g)
        loss_a = dqn_loss(out_a := auto(obs, actions), targets, weights)
        loss_b = dqn_loss(out_b := written(obs, actions), targets, weights)
    assert torch.allclose(out_a.q, out_b.q, atol=1e-6)
    auto.backward(loss_a)
    written.backward(loss_b)
    assert loss_b.value.item() == pytest.approx(loss_a.value.item(), rel=1e-6)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-6), name
    assert b.torso.convs[0].weight.grad.abs().sum() > 0  # the filters learn too
    # acting through numpy (the convolution as a product on patches) gives the module's Q
    numpy_q = NumpyForward(written.layers, "relu", written.conv.conv, shape)
    if distributional == "qr":
        numpy_q = quantile_means(numpy_q, 5)
    with torch.no_grad():
        expected = b(obs).numpy()
    assert np.allclose(numpy_q(obs[0].numpy()), expected[0], atol=1e-5)
    assert np.allclose(numpy_q(obs.numpy()), expected, atol=1e-5)


HEADS_CASES = [  # (distributional, dueling, noisy, network)
    ("c51", True, True, "mlp"),  # Rainbow's heads
    ("c51", False, False, "mlp"),
    ("qr", True, False, "mlp"),
    ("none", False, True, "mlp"),
    ("c51", True, True, "young-tian"),  # the MinAtar Rainbow preset's network
    ("c51", True, True, "dopamine"),  # Obando-Ceron & Castro's (no linear layer, padded)
    ("qr", False, True, "young-tian"),
    ("none", True, False, "young-tian"),
]


def heads_config(distributional: str, dueling: bool, noisy: bool, network: str) -> Config:
    return Config(
        distributional=distributional,
        n_atoms=11,
        v_min=-5.0,
        v_max=5.0,
        n_quantiles=5,
        dueling=dueling,
        noisy=noisy,
        exploration_initial_eps=0.0 if noisy else 1.0,
        exploration_final_eps=0.0 if noisy else 0.05,
        net_arch=(32, 32),
        minatar_hidden=0 if network == "dopamine" else 128,
        minatar_padding=1 if network == "dopamine" else 0,
    )


@pytest.mark.parametrize(("distributional", "dueling", "noisy", "network"), HEADS_CASES)
def test_written_out_heads_pass_gives_autograd_gradients(distributional, dueling, noisy, network):
    """Dueling, noisy and C51 heads on an MLP or MinAtar's network through the written-out
    pass: the taken actions' outputs, the loss and every parameter's gradient (the noise
    scales' and the filters' included) as autograd's, with importance weights."""
    config = heads_config(distributional, dueling, noisy, network)
    shape = (4,) if network == "mlp" else (4, 10, 10)
    a = QNetwork(shape, 3, config, torch.Generator().manual_seed(0))
    b = QNetwork(shape, 3, config, torch.Generator().manual_seed(0))
    auto, written = q_model(a, replace(config, written_out_backprop=False)), q_model(b, config)
    assert isinstance(auto, AutogradQ) and isinstance(written, WrittenOutHeadsQ)
    assert written.parameters()[0].numel() == sum(p.numel() for p in b.parameters())
    reset_noise(a, torch.Generator().manual_seed(3))
    reset_noise(b, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(1)
    if network == "mlp":
        obs = torch.randn(32, *shape, generator=g)
    else:
        obs = (torch.rand(32, *shape, generator=g) < 0.2).to(torch.uint8)
    actions = torch.randint(0, 3, (32,), generator=g)
    weights = torch.rand(32, generator=g)
    targets = {
        "c51": lambda: torch.softmax(torch.randn(32, 11, generator=g), -1),
        "qr": lambda: torch.randn(32, 5, generator=g),
        "none": lambda: torch.randn(32, generator=g),
    }[distributional]()
    out_a, out_b = auto(obs, actions), written(obs, actions)
    assert out_b.q.shape == out_a.q.shape and torch.allclose(out_a.q, out_b.q, atol=1e-6)
    loss_a = loss_of(config, a, out_a, targets, weights, True)
    loss_b = loss_of(config, b, out_b, targets, weights, True)
    auto.backward(loss_a)
    written.backward(loss_b)
    assert loss_b.value.item() == pytest.approx(loss_a.value.item(), rel=1e-6)
    assert torch.allclose(loss_a.parts["td_errors"], loss_b.parts["td_errors"], atol=1e-5)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert pb.grad.abs().sum() > 0, name  # every parameter learns, sigma too
        assert torch.allclose(pa.grad, pb.grad, atol=1e-6, rtol=1e-5), name


@pytest.mark.parametrize(("distributional", "dueling", "noisy", "network"), HEADS_CASES)
def test_numpy_acting_through_heads_gives_the_modules_q(distributional, dueling, noisy, network):
    """Acting in numpy (``NumpyHeadsQ``) gives the module's Q of one observation and of a
    batch, with the current noise in training mode and without it in eval mode."""
    config = heads_config(distributional, dueling, noisy, network)
    shape = (4,) if network == "mlp" else (4, 10, 10)
    net = QNetwork(shape, 3, config, torch.Generator().manual_seed(0))
    acting = NumpyHeadsQ(
        q_model(net, config), shape, net.support if distributional == "c51" else None
    )
    g = torch.Generator().manual_seed(1)
    if network == "mlp":
        obs = torch.randn(8, *shape, generator=g)
    else:
        obs = (torch.rand(8, *shape, generator=g) < 0.2).to(torch.uint8)
    for training in (True, False):
        net.train(training)
        reset_noise(net, g)
        with torch.no_grad():
            one_by_one = torch.stack([net(o[None])[0] for o in obs]).numpy()
            batch = net(obs).numpy()
        assert np.allclose([acting(o.numpy()) for o in obs], one_by_one, atol=2e-5)
        assert np.allclose(acting(obs.numpy()), batch, atol=2e-5)
    if noisy:  # the noise reaches numpy through the buffers' views
        net.train(True)
        before = acting(obs.numpy())
        reset_noise(net, g)
        assert not np.allclose(acting(obs.numpy()), before)


def test_rainbow_presets_take_the_written_out_pass_where_it_exists():
    from pathlib import Path

    from rlkit.config import load_config

    configs = Path(__file__).resolve().parents[2] / "configs" / "dqn"
    minatar = load_config(Config, configs / "MinAtar-Breakout-v1.rainbow.yaml")[0]
    net = QNetwork((4, 10, 10), 3, minatar, torch.Generator().manual_seed(0))
    assert isinstance(q_model(net, minatar), WrittenOutHeadsQ)
    cartpole = load_config(Config, configs / "CartPole-v1.rainbow.yaml")[0]
    net = QNetwork((4,), 2, cartpole, torch.Generator().manual_seed(0))
    assert isinstance(q_model(net, cartpole), WrittenOutHeadsQ)
    # the Nature CNN keeps autograd
    net = QNetwork((4, 84, 84), 6, minatar, torch.Generator().manual_seed(0))
    assert isinstance(q_model(net, minatar), AutogradQ)


def bf16_passes_checked(device: str, double_q: bool, run_dir) -> tuple[list[bool], object]:
    """Train DQN on CartPole in bf16 (3 gradient steps a learning phase) on ``device`` and
    check each bf16 output of the online network's linear layers against the layer computed
    afresh from its current weights: whether each was stale, and the agent."""
    stale = []

    def check(module, inputs, output):
        if not (
            isinstance(module, torch.nn.Linear)
            and module.weight.requires_grad  # the online network (the target's are frozen)
            and torch.is_autocast_enabled(module.weight.device.type)
            and output.dtype == torch.bfloat16
        ):
            return
        with torch.no_grad(), torch.autocast(module.weight.device.type, enabled=False):
            fresh = torch.nn.functional.linear(
                inputs[0].to(torch.bfloat16),
                module.weight.to(torch.bfloat16),
                module.bias.to(torch.bfloat16),
            )
        stale.append(not torch.equal(output.detach(), fresh))

    handle = torch.nn.modules.module.register_module_forward_hook(check)
    try:
        agent = rlkit.train(
            "dqn",
            "CartPole-v1",
            run_dir=run_dir,
            device=device,
            precision="bf16",
            total_steps=160,
            learning_starts=64,
            batch_size=8,
            train_freq=4,
            gradient_steps=3,
            double_q=double_q,
            learning_rate=0.01,  # steps that move weights by more than bf16's resolution
            eval_interval=0,
            eval_episodes=1,
            progress=False,
        )
    finally:
        handle.remove()
    return stale, agent


@pytest.mark.parametrize("double_q", [False, True])
def test_bf16_passes_use_the_weights_of_the_moment(double_q, tmp_path):
    """Autocast keeps its bf16 copy of a weight until its outermost context exits, and an
    optimizer's in-place step does not refresh it. Every bf16 pass of the online network
    in each of several gradient steps of a learning phase must see the weights as they are.
    (On the CPU one observation is acted on in float32, so the learning phases are what is
    checked here; ``tests/rlkit/test_gpu.py`` checks acting on cuda too.)"""
    stale, agent = bf16_passes_checked("cpu", double_q, tmp_path / "run")
    # 24 learning phases of 3 gradient steps, 3 layers each (with double Q, as many again
    # to choose the next actions)
    assert len(stale) == (432 if double_q else 216) and not any(stale)
    # the checkpoint's policy, as rlkit eval plays it, gives the training's evaluation
    assert agent.evaluate()["eval/mean_return"] == agent.summary["eval/mean_return"]


def test_acting_computes_as_the_updates_do_but_on_the_cpu_in_float32():
    bf16 = Config(precision="bf16")
    assert acts_in_bf16(bf16, "cuda", image=True) and acts_in_bf16(bf16, "cuda", image=False)
    assert not acts_in_bf16(bf16, "cpu", image=True)
    assert not acts_in_bf16(Config(precision="float32"), "cuda", image=True)
