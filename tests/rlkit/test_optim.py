"""Our optimizers against torch.optim step by step, and Lion against its published update."""

import pytest
import torch
from torch import nn

from rlkit.errors import BadInput
from rlkit.optim import SGD, Adam, Lion, RMSprop, load_state, make_optimizer


def paired_models(seed: int = 0):
    torch.manual_seed(seed)
    a = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    b = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    b.load_state_dict(a.state_dict())
    return a, b


def max_difference_over(ours_fn, torch_fn, steps: int = 100, fused: bool = False) -> float:
    a, b = paired_models()
    ours, ref = ours_fn(a.parameters()), torch_fn(b.parameters())
    gen = torch.Generator().manual_seed(1)
    worst = 0.0
    for _ in range(steps):
        x = torch.randn(32, 6, generator=gen)
        y = torch.randn(32, 3, generator=gen)
        for model, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            (model(x) - y).square().mean().backward()
            opt.step()
        worst = max(
            worst,
            max(
                float((p - q).detach().abs().max())
                for p, q in zip(a.parameters(), b.parameters(), strict=True)
            ),
        )
    return worst


CASES = {
    "sgd": (lambda p: SGD(p, lr=0.05), lambda p: torch.optim.SGD(p, lr=0.05)),
    "sgd_wd": (
        lambda p: SGD(p, lr=0.05, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.01),
    ),
    "momentum": (
        lambda p: SGD(p, lr=0.02, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9),
    ),
    "nesterov": (
        lambda p: SGD(p, lr=0.02, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.02, momentum=0.9, nesterov=True),
    ),
    "adam": (lambda p: Adam(p, lr=1e-2), lambda p: torch.optim.Adam(p, lr=1e-2)),
    "adam_wd_betas": (
        lambda p: Adam(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
        lambda p: torch.optim.Adam(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05),
    ),
    "rmsprop": (
        lambda p: RMSprop(p, lr=7e-4, alpha=0.99, eps=1e-5),
        lambda p: torch.optim.RMSprop(p, lr=7e-4, alpha=0.99, eps=1e-5),
    ),
    "rmsprop_wd": (
        lambda p: RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-8, weight_decay=0.01),
        lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-8, weight_decay=0.01),
    ),
    "rmsprop_centered": (  # MinAtar's DQN (Young & Tian 2019)
        lambda p: RMSprop(p, lr=2.5e-4, alpha=0.95, eps=0.01, centered=True),
        lambda p: torch.optim.RMSprop(p, lr=2.5e-4, alpha=0.95, eps=0.01, centered=True),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch_optim_for_100_steps(name):
    assert max_difference_over(*CASES[name]) <= 1e-6


@pytest.mark.parametrize("name", ["adam", "adam_wd_betas"])
def test_adam_written_out_and_native_kernel_both_match_torch(name, monkeypatch):
    """Eager Adam on float32 CPU tensors takes torch's fused kernel; the written-out
    ``adam_update_`` (the compiled path's, and every other device's) matches torch too."""
    from rlkit import optim

    calls = []
    original = torch._fused_adam_
    monkeypatch.setattr(torch, "_fused_adam_", lambda *a, **k: calls.append(1) or original(*a, **k))
    assert max_difference_over(*CASES[name]) <= 1e-6
    assert len(calls) == 100
    monkeypatch.setattr(optim, "_native_adam", lambda *a: False)
    assert max_difference_over(*CASES[name]) <= 1e-6
    assert len(calls) == 100


def lion_reference(params, grads_per_step, lr, beta1, beta2, wd):
    """The published Lion update (Chen et al. 2023, Algorithm 2), written out."""
    params = [p.clone() for p in params]
    m = [torch.zeros_like(p) for p in params]
    for grads in grads_per_step:
        for i, g in enumerate(grads):
            c = beta1 * m[i] + (1 - beta1) * g
            params[i] = params[i] - lr * (torch.sign(c) + wd * params[i])
            m[i] = beta2 * m[i] + (1 - beta2) * g
    return params


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_lion_matches_its_published_update(wd):
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(4, 3, generator=gen), torch.randn(3, generator=gen)]
    grads_per_step = [[torch.randn_like(p) for p in start] for _ in range(100)]
    params = [nn.Parameter(p.clone()) for p in start]
    opt = Lion(params, lr=1e-3, betas=(0.9, 0.99), weight_decay=wd)
    for grads in grads_per_step:
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        opt.step()
    expected = lion_reference(start, grads_per_step, 1e-3, 0.9, 0.99, wd)
    for p, e in zip(params, expected, strict=True):
        assert torch.allclose(p.detach(), e, atol=1e-6)


def test_lion_moves_every_coordinate_by_lr():
    p = nn.Parameter(torch.zeros(5))
    p.grad = torch.tensor([3.0, -0.001, 1e-8, -50.0, 2.0])
    Lion([p], lr=0.1).step()
    assert p.detach().tolist() == pytest.approx([-0.1, 0.1, -0.1, 0.1, -0.1])


def test_parameters_without_gradients_are_left_alone():
    a = nn.Parameter(torch.ones(2))
    b = nn.Parameter(torch.ones(2))
    a.grad = torch.ones(2)
    opt = Adam([a, b], lr=0.1)
    opt.step()
    assert b.detach().tolist() == [1.0, 1.0] and a.detach().tolist() != [1.0, 1.0]


def test_closure_and_state_dict_round_trip():
    a, b = paired_models()
    opt = Adam(a.parameters(), lr=1e-2)
    x = torch.randn(8, 6)

    def closure():
        opt.zero_grad()
        loss = a(x).square().mean()
        loss.backward()
        return loss

    assert float(opt.step(closure).detach()) > 0
    again = Adam(b.parameters(), lr=1e-2)
    again.load_state_dict(opt.state_dict())
    assert again.state_dict()["state"][0]["step"] == 1


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "lion"])
def test_step_hooks_fire_in_torchs_order(name):
    from torch.optim.optimizer import (
        register_optimizer_step_post_hook,
        register_optimizer_step_pre_hook,
    )

    w = nn.Parameter(torch.ones(3))
    opt = make_optimizer(name, [w], lr=0.1)
    calls = []
    handles = [
        register_optimizer_step_pre_hook(lambda o, a, k: calls.append(("global pre", o, a))),
        opt.register_step_pre_hook(lambda o, a, k: calls.append(("pre", float(w.detach()[0])))),
        opt.register_step_post_hook(lambda o, a, k: calls.append(("post", float(w.detach()[0])))),
        register_optimizer_step_post_hook(lambda o, a, k: calls.append(("global post",))),
    ]
    try:
        w.grad = torch.ones(3)
        opt.step()
        assert [c[0] for c in calls] == ["global pre", "pre", "post", "global post"]
        assert calls[0][1] is opt and calls[0][2] == (opt,)  # torch's args: the optimizer first
        assert calls[1][1] == 1.0 and calls[2][1] < 1.0  # before and after the update
        # a pre-hook may hand the step a closure; its loss comes back
        handles.append(
            opt.register_step_pre_hook(lambda o, a, k: ((o, lambda: torch.tensor(7.0)), k))
        )
        assert float(opt.step()) == 7.0
    finally:
        for handle in handles:
            handle.remove()
    calls.clear()
    opt.step()  # removed: no hook fires, and the step still runs
    assert calls == []


def test_make_optimizer_by_name():
    params = [nn.Parameter(torch.zeros(1))]
    assert isinstance(make_optimizer("sgd", params, 0.1), SGD)
    momentum = make_optimizer("momentum", params, 0.1, momentum=0.8, nesterov=True)
    assert momentum.defaults["momentum"] == 0.8 and momentum.defaults["nesterov"]
    assert make_optimizer("adam", params, 0.1).defaults["betas"] == (0.9, 0.999)
    assert make_optimizer("lion", params, 0.1).defaults["betas"] == (0.9, 0.99)
    with pytest.raises(BadInput, match="did you mean 'lion'"):
        make_optimizer("lino", params, 0.1)
    with pytest.raises(ValueError, match="lr"):
        Adam(params, lr=-1.0)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["adam", "momentum", "rmsprop_centered"])
def test_fused_matches_torch_too(name):
    ours, ref = CASES[name]

    made = []

    def fused(params):
        opt = ours(params)
        opt.fused = True
        made.append(opt)
        return opt

    assert max_difference_over(fused, ref) <= 1e-6
    assert made[0].fused  # compiled, not fallen back to eager


@pytest.mark.slow
def test_fused_lion_matches_eager_lion():
    a, b = paired_models()
    assert (
        max_difference_over(lambda p: Lion(p, lr=1e-3, fused=True), lambda p: Lion(p, lr=1e-3))
        <= 1e-6
    )


def test_optimizer_from_config_fields():
    import dataclasses

    from rlkit.config import OptimizerFields, load_config
    from rlkit.optim import optimizer_from_config

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class AgentConfig(OptimizerFields):
        """An agent config with the optimizer fields."""

        learning_rate: float = 1e-3
        """Step size."""

    params = [nn.Parameter(torch.zeros(2))]
    config, _ = load_config(
        AgentConfig, None, ["optimizer=lion", "optimizer_betas=[0.95, 0.98]", "weight_decay=0.1"]
    )
    opt = optimizer_from_config(config, params)
    assert isinstance(opt, Lion)
    assert opt.defaults == {"lr": 1e-3, "betas": (0.95, 0.98), "weight_decay": 0.1}
    config, _ = load_config(
        AgentConfig, None, ["optimizer=momentum", "momentum=0.5", "nesterov=true"]
    )
    opt = optimizer_from_config(config, params, lr=0.2)
    assert isinstance(opt, SGD) and opt.defaults["momentum"] == 0.5 and opt.defaults["lr"] == 0.2
    config, _ = load_config(AgentConfig, None, ["optimizer=rmsprop", "rms_alpha=0.9"])
    opt = optimizer_from_config(config, params)
    assert isinstance(opt, RMSprop) and opt.defaults["alpha"] == 0.9
    assert not opt.defaults["centered"]
    config, _ = load_config(AgentConfig, None, ["optimizer=rmsprop", "rms_centered=true"])
    assert optimizer_from_config(config, params).defaults["centered"]
    for bad, message in (
        ("optimizer=adagrad", "allowed: sgd, momentum, adam, rmsprop, lion"),
        ("rms_alpha=1.0", "rms_alpha"),
        ("optimizer_betas=[0.9, 1.5]", "optimizer_betas"),
        ("momentum=1.0", "momentum=1.0"),
    ):
        with pytest.raises(BadInput, match=message):
            load_config(AgentConfig, None, [bad])
    with pytest.raises(BadInput, match="nesterov=true needs optimizer=momentum"):
        load_config(AgentConfig, None, ["nesterov=true"])
    with pytest.raises(BadInput, match="rms_centered=true needs optimizer=rmsprop"):
        load_config(AgentConfig, None, ["rms_centered=true"])


@pytest.mark.parametrize("n_tensors", [1, 3])
def test_clip_grad_norm_matches_torch(n_tensors):
    from rlkit.optim import clip_grad_norm_

    gen = torch.Generator().manual_seed(0)
    ours = [nn.Parameter(torch.zeros(5)) for _ in range(n_tensors)]
    ref = [nn.Parameter(torch.zeros(5)) for _ in range(n_tensors)]
    for a, b in zip(ours, ref, strict=True):
        a.grad = torch.randn(5, generator=gen) * 10
        b.grad = a.grad.clone()
    total = clip_grad_norm_(ours, 1.0)
    expected = nn.utils.clip_grad_norm_(ref, 1.0)
    assert torch.allclose(total, expected)
    for a, b in zip(ours, ref, strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-6)


def test_native_adam_moves_a_tensor_bitwise_as_its_padded_row():
    """A tensor whose length is not a whole number of the kernel's vector blocks steps
    exactly as the same values inside a padded row of a stacked buffer (how a seed of a
    batched group moves as its single run), also after ``load_state_dict`` gives the
    optimizer new moment tensors."""
    g = torch.Generator().manual_seed(0)
    alone = nn.Parameter(torch.randn(37, generator=g))
    stacked = nn.Parameter(torch.zeros(2, 48))
    with torch.no_grad():
        stacked[1, :37] = alone
    ours, rows = Adam([alone], lr=1e-2), Adam([stacked], lr=1e-2)
    for step in range(40):
        grad = torch.randn(37, generator=g) * 10.0 ** (step % 5 - 2)
        alone.grad = grad.clone()
        stacked.grad = torch.zeros(2, 48)
        stacked.grad[1, :37] = grad
        ours.step()
        rows.step()
        assert torch.equal(alone.detach(), stacked.detach()[1, :37]), step
        assert torch.equal(
            ours.state[alone]["exp_avg_sq"], rows.state[stacked]["exp_avg_sq"][1, :37]
        )
        if step == 19:
            ours.load_state_dict(ours.state_dict())  # fresh state tensors: new views
    assert len(ours._fused_calls) == 1  # the group load_state_dict made took over the call


def test_native_adam_checks_a_tensor_again_only_when_it_moves(monkeypatch):
    """The kernel's lists are kept while no tensor of the group moves: the float32 /
    contiguity check runs once per (param, grad, moments) tuple, again for a tuple whose
    gradient is a new tensor, and a group that stops qualifying (a gradient laid out unlike
    its parameter) leaves the kernel for the written-out update."""
    from rlkit import optim

    checked = []
    original = optim._native_adam
    monkeypatch.setattr(optim, "_native_adam", lambda *a: checked.append(1) or original(*a))
    a, b = paired_models()
    ours, ref = Adam(a.parameters(), lr=1e-2), torch.optim.Adam(b.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(3)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        p.grad, q.grad = torch.zeros_like(p), torch.zeros_like(q)
    for step in range(12):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            g = torch.randn(p.shape, generator=gen)
            if step == 6 and p.ndim == 1:
                p.grad = g.clone()  # a new tensor: this tuple is checked again
            else:
                p.grad.copy_(g)  # written in place: nothing moved
            q.grad.copy_(g)
        ours.step()
        ref.step()
    assert len(checked) == 4 + 2  # four tuples once, the two biases again at step 6
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)
    monkeypatch.setattr(
        torch, "_fused_adam_", lambda *a, **k: pytest.fail("kernel on a strided grad")
    )
    first = next(a.parameters())
    first.grad = first.grad.t().contiguous().t()  # same values, transposed strides
    assert not first.grad.is_contiguous()
    before = first.detach().clone()
    ours.step()
    assert not torch.equal(first.detach(), before)


def test_native_adam_takes_channels_last_weights_and_leaves_gaps_to_the_written_out_update(
    monkeypatch,
):
    """A channels-last CNN's weights (dense, not contiguous) step through torch's kernel
    over their memory as it lies, and match ``torch.optim.Adam`` on the same weights; a
    parameter with gaps in its memory (a strided slice) is left to ``adam_update_``."""
    from rlkit import optim

    calls = []
    original = torch._fused_adam_
    monkeypatch.setattr(torch, "_fused_adam_", lambda *a, **k: calls.append(1) or original(*a, **k))

    def cnn(seed):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU(), nn.Conv2d(5, 7, 2))
        return net.to(memory_format=torch.channels_last)

    a, b = cnn(0), cnn(0)
    assert not a[0].weight.is_contiguous() and optim.dense(a[0].weight)
    ours, ref = Adam(a.parameters(), lr=1e-2), torch.optim.Adam(b.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    for _ in range(50):
        x = torch.randn(4, 3, 9, 9, generator=gen).contiguous(memory_format=torch.channels_last)
        for net, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    assert len(calls) == 50
    assert a[0].weight.grad.stride() == a[0].weight.stride()  # as the kernel met them
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert p.stride() == q.stride() and torch.allclose(p, q, atol=1e-6)
    gappy = nn.Parameter(torch.randn(6, 8)[:, ::2])
    assert not optim.dense(gappy)
    gappy.grad = torch.ones_like(gappy)
    before = gappy.detach().clone()
    Adam([gappy], lr=0.1).step()
    assert len(calls) == 50  # not through the kernel
    assert torch.allclose(gappy.detach(), before - 0.1, atol=1e-6)  # Adam's first step: lr


def test_square_roots_are_correctly_rounded_subnormals_included():
    """The optimizers' square roots (Adam's and RMSprop's denominators) are the correctly
    rounded float32 roots, also of subnormal second moments, in place or not."""
    from rlkit.optim import _sqrt, _sqrt_

    gen = torch.Generator().manual_seed(0)
    exponents = torch.randint(-45, 5, (100_000,), generator=gen).float()
    x = (torch.rand(100_000, generator=gen) * 10.0**exponents).float()
    assert ((x > 0) & (x < torch.finfo(torch.float32).tiny)).sum() > 10_000  # subnormals
    exact = torch.sqrt(x.double()).float()  # float64's root rounds to float32's exactly
    (roots,) = _sqrt([x])
    assert torch.equal(roots.view(torch.int32), exact.view(torch.int32))
    y = x.clone()
    (same,) = _sqrt_([y])
    assert same is y and torch.equal(y.view(torch.int32), exact.view(torch.int32))


def test_centered_rmsprop_takes_the_root_of_the_running_variance():
    """One centered RMSprop step by hand: ``v = (1 - a) g^2``, ``g_avg = (1 - a) g``, then
    ``theta -= lr g / (sqrt(v - g_avg^2) + eps)``."""
    p = nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    g = torch.tensor([0.3, -1.0, 2e-20])  # the last one's variance is subnormal
    p.grad = g.clone()
    RMSprop([p], lr=0.1, alpha=0.9, eps=1e-3, centered=True).step()
    v, g_avg = 0.1 * g.double() ** 2, 0.1 * g.double()
    expected = torch.tensor([1.0, -2.0, 0.5]).double() - 0.1 * g.double() / (
        (v - g_avg**2).sqrt() + 1e-3
    )
    assert torch.allclose(p.detach().double(), expected, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", ["adam", "rmsprop"])
def test_a_per_parameter_state_loads_into_a_flat_buffer_and_steps_on_alike(name):
    """A checkpoint's optimizer state saved with one tensor per parameter continues, bit
    for bit, on the same parameters held as views of one flat buffer (a network whose
    pass was written out since: ``backprop.flatten_parameters``)."""
    from rlkit.nn import backprop

    def net() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))

    def grads_of(module: nn.Module) -> list[torch.Tensor]:
        return list(torch.autograd.grad(module(x).pow(2).sum(), list(module.parameters())))

    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(1))
    a = net()
    opt_a = make_optimizer(name, a.parameters(), lr=1e-2)
    for _ in range(3):
        for p, g in zip(a.parameters(), grads_of(a), strict=True):
            p.grad = g
        opt_a.step()
    b = net()
    b.load_state_dict(a.state_dict())
    flat = backprop.flatten_parameters(b)
    opt_b = make_optimizer(name, [flat], lr=1e-2)
    load_state(opt_b, opt_a.state_dict())
    assert opt_b.state[flat]["step"] == 3
    for _ in range(2):
        for p, g in zip(a.parameters(), grads_of(a), strict=True):
            p.grad = g
        opt_a.step()
        for p, g in zip(b.parameters(), grads_of(b), strict=True):
            p.grad.copy_(g)
        opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    # a state that does not fit the buffer is refused
    small = make_optimizer(name, [nn.Parameter(torch.zeros(3))], lr=1e-2)
    with pytest.raises(ValueError):
        load_state(small, opt_a.state_dict())
