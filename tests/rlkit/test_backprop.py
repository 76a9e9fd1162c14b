import pytest
import torch

from rlkit.nn import MLP
from rlkit.nn.backprop import backward, forward


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "identity"])
def test_written_out_backprop_equals_autograd(activation):
    gen = torch.Generator().manual_seed(0)
    model = MLP(5, [16, 8], 3, activation=activation, generator=gen)
    x = torch.randn(32, 5, generator=gen)
    target = torch.randn(32, 3, generator=gen)
    # autograd
    loss = 0.5 * (model(x) - target).square().sum()
    loss.backward()
    expected = [p.grad.clone() for p in model.parameters()]
    # written out: dC/da_L = a_L - target
    layers = model.linears
    outputs = forward(layers, activation, x)
    assert torch.allclose(outputs[-1], model(x), atol=1e-6)
    backward(layers, activation, outputs, outputs[-1] - target)
    for p, g in zip(model.parameters(), expected, strict=True):
        assert torch.allclose(p.grad, g, atol=1e-5, rtol=1e-4)


def test_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        forward([torch.nn.Linear(2, 2)], "gelu", torch.zeros(1, 2))


def test_flat_parameters_are_shared_views():
    from rlkit.nn.backprop import flatten_parameters

    gen = torch.Generator().manual_seed(0)
    model = MLP(3, [4], 2, activation="tanh", generator=gen)
    before = model(torch.ones(1, 3)).detach()
    flat = flatten_parameters(model)
    assert flat.numel() == sum(p.numel() for p in model.parameters())
    assert torch.equal(model(torch.ones(1, 3)), before)  # same function
    x, target = torch.randn(8, 3, generator=gen), torch.randn(8, 2, generator=gen)
    outputs = forward(model.linears, "tanh", x)
    backward(model.linears, "tanh", outputs, outputs[-1] - target)
    assert torch.equal(flat.grad, torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    with torch.no_grad():
        flat.sub_(0.1 * flat.grad)  # one update of the flat buffer moves every layer
    assert torch.equal(
        flat.detach(), torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    )
    assert not torch.equal(model(torch.ones(1, 3)).detach(), before)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_numpy_forward_matches_and_follows_updates(activation):
    import numpy as np

    from rlkit.nn.backprop import NumpyForward, flatten_parameters

    gen = torch.Generator().manual_seed(0)
    model = MLP(4, [16, 16], 3, activation=activation, generator=gen)
    fast = NumpyForward(model.linears, activation)
    x = torch.randn(4, generator=gen)
    assert np.allclose(fast(x.numpy()), model(x[None])[0].detach().numpy(), atol=1e-5)
    batch = torch.randn(5, 4, generator=gen)  # a batch of observations
    assert np.allclose(fast(batch.numpy()), model(batch).detach().numpy(), atol=1e-5)
    flat = flatten_parameters(model)
    with torch.no_grad():
        flat.mul_(0.5)  # an in-place update, as an optimizer makes
    fast = NumpyForward(model.linears, activation)
    with torch.no_grad():
        flat.add_(0.1)
    assert np.allclose(fast(x.numpy()), model(x[None])[0].detach().numpy(), atol=1e-5)
