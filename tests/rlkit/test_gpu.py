"""CUDA numerics against the CPU (marked ``gpu``: ``benchmarks/gpu.sh`` runs them where a
GPU is at hand; CI has none). The same weights and inputs give the same outputs, losses,
optimizer steps and replay batches on both devices, within float32 round-off (bf16
autocast within its own precision); and a short PPO run trains on cuda."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.gpu

CUDA = torch.device("cuda")


@pytest.fixture(autouse=True, scope="module")
def needs_cuda():
    assert torch.cuda.is_available(), "the gpu tests need a CUDA GPU (torch sees none)"


def both(module: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    import copy

    return module, copy.deepcopy(module).to(CUDA)


@pytest.mark.parametrize("bf16", [False, True])
def test_actor_critic_on_atari_frames(bf16):
    precision = "bf16" if bf16 else "float32"
    from rlkit.nn.actor_critic import ActorCritic

    cpu, gpu = both(
        ActorCritic(
            (4, 84, 84),
            n_actions=6,
            generator=torch.Generator().manual_seed(0),
            precision=precision,
        )
    )
    obs = torch.randint(0, 255, (16, 4, 84, 84), dtype=torch.uint8)
    dist_c, v_c = cpu(obs)
    dist_g, v_g = gpu(obs.to(CUDA))
    tol = 3e-2 if bf16 else 1e-4
    assert torch.allclose(dist_c.log_probs, dist_g.log_probs.cpu(), atol=tol)
    assert torch.allclose(v_c, v_g.cpu(), atol=tol)


def test_losses_and_their_gradients():
    from types import SimpleNamespace

    from rlkit.losses import huber, ppo_loss
    from rlkit.nn.passes import PolicyOutputs

    g = torch.Generator().manual_seed(0)
    tensors = {
        k: torch.randn(64, generator=g)
        for k in ("log_probs", "values", "advantages", "returns", "lp", "v", "h")
    }
    config = SimpleNamespace(
        normalize_advantage=True, clip_range_vf=0.2, vf_coef=0.5, ent_coef=0.01
    )
    for device in ("cpu", "cuda"):
        t = {k: v.to(device) for k, v in tensors.items()}
        batch = SimpleNamespace(
            **{k: t[k] for k in ("log_probs", "values", "advantages", "returns")}
        )
        loss = ppo_loss(PolicyOutputs(t["lp"], t["v"], t["h"]), batch, 0.2, config)
        tensors[f"ppo_{device}"] = loss.value.cpu()
        tensors[f"grad_{device}"] = loss.grads["log_probs"].cpu()
        tensors[f"huber_{device}"] = huber(t["v"], t["returns"]).cpu()
    for name in ("ppo", "grad", "huber"):
        assert torch.allclose(tensors[f"{name}_cpu"], tensors[f"{name}_cuda"], atol=1e-5), name


def test_the_written_out_minatar_pass_on_cuda():
    """MinAtar's network through the written-out pass (conv2d, convolution_backward, the
    MLP chain): the same Q and gradients on cuda (cuDNN's kernels) as on the CPU."""
    from rlkit.agents.dqn import Config, QNetwork, dqn_loss, q_model

    config = Config()
    g = torch.Generator().manual_seed(1)
    obs = (torch.rand(32, 4, 10, 10, generator=g) < 0.2).to(torch.uint8)
    actions = torch.randint(0, 3, (32,), generator=g)
    targets = torch.randn(32, generator=g)
    grads = {}
    for device in ("cpu", "cuda"):
        net = QNetwork((4, 10, 10), 3, config, torch.Generator().manual_seed(0)).to(device)
        model = q_model(net, config)
        assert model.written_out and model.conv is not None
        out = model(obs.to(device), actions.to(device))
        model.backward(dqn_loss(out, targets.to(device), None, with_value=False))
        grads[device] = model.parameters()[0].grad.cpu()
    assert grads["cpu"].abs().sum() > 0
    assert torch.allclose(grads["cpu"], grads["cuda"], atol=1e-5)


def test_the_written_out_rainbow_pass_on_cuda():
    """MinAtar's network with Rainbow's heads (dueling, noisy, C51) through the written-out
    pass: the same log-probabilities and gradients on cuda as on the CPU, with the same
    noise (drawn on the CPU, carried by the buffers)."""
    from rlkit.agents.dqn import Config, QNetwork, loss_of, q_model
    from rlkit.nn.passes import WrittenOutHeadsQ

    config = Config(
        distributional="c51",
        dueling=True,
        noisy=True,
        exploration_initial_eps=0.0,
        exploration_final_eps=0.0,
    )
    g = torch.Generator().manual_seed(1)
    obs = (torch.rand(32, 4, 10, 10, generator=g) < 0.2).to(torch.uint8)
    actions = torch.randint(0, 3, (32,), generator=g)
    targets = torch.softmax(torch.randn(32, config.n_atoms, generator=g), -1)
    weights = torch.rand(32, generator=g)
    outs, grads = {}, {}
    for device in ("cpu", "cuda"):
        net = QNetwork((4, 10, 10), 3, config, torch.Generator().manual_seed(0)).to(device)
        model = q_model(net, config)
        assert isinstance(model, WrittenOutHeadsQ)
        out = model(obs.to(device), actions.to(device))
        model.backward(loss_of(config, net, out, targets.to(device), weights.to(device), True))
        outs[device], grads[device] = out.q.cpu(), model.parameters()[0].grad.cpu()
    assert grads["cpu"].abs().sum() > 0
    assert torch.allclose(outs["cpu"], outs["cuda"], atol=1e-5)
    assert torch.allclose(grads["cpu"], grads["cuda"], atol=1e-5)


@pytest.mark.parametrize("name", ["adam", "lion", "sgd", "rmsprop"])
def test_optimizer_steps(name):
    from rlkit.optim import make_optimizer

    g = torch.Generator().manual_seed(0)
    start = torch.randn(1000, generator=g)
    grads = [torch.randn(1000, generator=g) for _ in range(5)]
    out = {}
    for device in ("cpu", "cuda"):
        p = torch.nn.Parameter(start.clone().to(device))
        opt = make_optimizer(name, [p], lr=1e-3)
        for grad in grads:
            p.grad = grad.to(device)
            opt.step()
        out[device] = p.detach().cpu()
    assert torch.allclose(out["cpu"], out["cuda"], atol=1e-6)


def test_replay_batches_are_the_same_batches_on_the_gpu():
    from rlkit.data import ReplayBuffer

    buffers = {
        d: ReplayBuffer(500, (4, 84, 84), np.uint8, stack=4, n_step=3, gamma=0.99, device=d)
        for d in ("cpu", "cuda")
    }
    rng = np.random.default_rng(0)
    frame = np.zeros((4, 84, 84), np.uint8)
    for t in range(800):
        nxt = np.roll(frame, -1, axis=0)
        nxt[-1] = rng.integers(0, 255, (84, 84), dtype=np.uint8)
        for buffer in buffers.values():
            buffer.add(frame, t % 6, float(t % 3), t % 97 == 96, False, nxt)
        frame = nxt
    a = buffers["cpu"].sample(32, np.random.default_rng(1))
    b = buffers["cuda"].sample(32, np.random.default_rng(1))
    assert b.obs.device.type == "cuda" and b.obs.dtype == torch.uint8
    for name in ("obs", "next_obs", "actions", "rewards", "dones", "discounts"):
        assert torch.equal(getattr(a, name), getattr(b, name).cpu()), name


@pytest.mark.parametrize("channels_last", [False, True])
def test_rollout_minibatches_are_the_same_on_the_gpu(channels_last):
    from rlkit.data import RolloutBuffer

    buffers = {
        d: RolloutBuffer(8, 4, (4, 84, 84), np.uint8, device=d, channels_last=channels_last)
        for d in ("cpu", "cuda")
    }
    rng = np.random.default_rng(0)
    for _ in range(8):
        step = (
            rng.integers(0, 256, (4, 4, 84, 84), dtype=np.uint8),
            rng.integers(0, 6, 4),
            *(rng.normal(size=4) for _ in range(3)),
            *(np.zeros(4) for _ in range(3)),
        )
        for buffer in buffers.values():
            buffer.add(*step)
    for buffer in buffers.values():
        buffer.finish(np.zeros(4), 0.99, 0.95)
    for epoch in range(2):
        a = buffers["cpu"].minibatches(12, torch.Generator().manual_seed(epoch))
        b = buffers["cuda"].minibatches(12, torch.Generator().manual_seed(epoch))
        for x, y in zip(a, b, strict=True):
            assert y.obs.device.type == "cuda" and torch.equal(x.obs, y.obs.cpu())
            assert y.obs.is_contiguous(memory_format=torch.channels_last) == channels_last
            assert torch.equal(x.actions, y.actions.cpu())
            torch.testing.assert_close(x.advantages, y.advantages.cpu())


def test_a_short_ppo_run_trains_on_cuda(cli, tmp_path):
    code, _, err = cli(
        "train",
        "ppo",
        "CartPole-v1",
        "total_steps=4096",
        "eval_episodes=3",
        "--device",
        "cuda",
        "--wandb",
        "disabled",
        "--run-dir",
        "r",
    )
    assert code == 0, err
    config = (tmp_path / "r" / "config.yaml").read_text()
    assert "device: cuda" in config
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    code, _, err = cli("eval", "r", "--device", "cuda")
    assert code == 0, err
    evaluation = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert evaluation["eval/mean_return"] == pytest.approx(summary["eval/mean_return"])


def test_ppo_on_the_batched_envs_runs_its_whole_loop_on_cuda(cli, tmp_path):
    code, _, err = cli(
        "train",
        "ppo",
        "CartPole-v1",
        "vec_env=torch",
        "n_envs=64",
        "n_steps=16",
        "batch_size=256",
        "total_steps=8192",
        "eval_episodes=4",
        "--device",
        "cuda",
        "--wandb",
        "disabled",
        "--run-dir",
        "t",
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert summary["total_steps"] == 8192 and summary["eval/episodes"] == 4


def test_dqns_bf16_passes_on_cuda_use_the_weights_of_the_moment(tmp_path):
    """As ``tests/agents/test_dqn.py`` checks on the CPU, and acting too: on cuda one
    observation is acted on under bf16 autocast, and a checkpoint's evaluation acts so."""
    from tests.agents.test_dqn import bf16_passes_checked

    stale, agent = bf16_passes_checked("cuda", True, tmp_path / "run")
    assert len(stale) > 432 and not any(stale)  # the learning phases' passes, and acting's
    assert agent.evaluate()["eval/mean_return"] == agent.summary["eval/mean_return"]
