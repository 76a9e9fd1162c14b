import math

import pytest
import torch
from torch import nn

from rlkit.errors import BadInput
from rlkit.nn import LSTM, MLP, NatureCNN, Perceptron, Step, activation, conv_net, init_weights
from rlkit.nn.init import fans, init_tensor_


def test_step_is_heaviside_without_gradient():
    x = torch.tensor([-2.0, 0.0, 0.5, 3.0], requires_grad=True)
    y = Step()(x)
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert not y.requires_grad


def test_activations_by_name():
    x = torch.linspace(-3, 3, 7)
    assert torch.allclose(activation("sigmoid")(x), torch.sigmoid(x))
    assert torch.allclose(activation("relu")(x), x.clamp(min=0))
    assert torch.allclose(activation("tanh")(x), torch.tanh(x))
    assert torch.allclose(activation("gelu")(x), nn.functional.gelu(x))
    with pytest.raises(BadInput, match="did you mean 'relu'"):
        activation("relux")


def test_mlp_shapes_layers_and_output_gain():
    gen = torch.Generator().manual_seed(0)
    model = MLP(
        4,
        [64, 64],
        2,
        activation="relu",
        init="orthogonal",
        gain=2**0.5,
        output_gain=0.01,
        generator=gen,
    )
    assert model(torch.zeros(5, 4)).shape == (5, 2)
    assert [layer.out_features for layer in model.linears] == [64, 64, 2]
    assert sum(isinstance(m, nn.ReLU) for m in model) == 2
    last = model.linears[-1].weight
    assert torch.allclose(last @ last.T, 0.01**2 * torch.eye(2), atol=1e-6)
    assert all(float(layer.bias.detach().abs().max()) == 0.0 for layer in model.linears)


def test_same_generator_seed_same_weights():
    a = MLP(3, [8], 1, generator=torch.Generator().manual_seed(7))
    b = MLP(3, [8], 1, generator=torch.Generator().manual_seed(7))
    c = MLP(3, [8], 1, generator=torch.Generator().manual_seed(8))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.linears[0].weight, c.linears[0].weight)


@pytest.mark.parametrize(
    "scheme,expected_var",
    [
        ("xavier_uniform", 2.0 / (400 + 300)),
        ("xavier_normal", 2.0 / (400 + 300)),
        ("he_normal", 2.0 / 300),
        ("he_uniform", 2.0 / 300),
    ],
)
def test_init_variance_follows_the_formula(scheme, expected_var):
    w = torch.empty(400, 300)
    init_tensor_(w, scheme, generator=torch.Generator().manual_seed(0))
    assert float(w.var()) == pytest.approx(expected_var, rel=0.03)
    assert abs(float(w.mean())) < 0.01 * math.sqrt(expected_var) * 10


def test_xavier_uniform_bound_and_torch_agreement():
    w = torch.empty(50, 20)
    init_tensor_(w, "xavier_uniform", gain=2.0, generator=torch.Generator().manual_seed(0))
    bound = 2.0 * math.sqrt(6 / 70)
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.9 * bound


def test_orthogonal_with_gain_conv_and_linear():
    w = torch.empty(16, 8, 3, 3)
    init_tensor_(w, "orthogonal", gain=1.5, generator=torch.Generator().manual_seed(0))
    flat = w.reshape(16, -1)
    assert torch.allclose(flat @ flat.T, 1.5**2 * torch.eye(16), atol=1e-5)
    tall = torch.empty(30, 10)
    init_tensor_(tall, "orthogonal", generator=torch.Generator().manual_seed(0))
    assert torch.allclose(tall.T @ tall, torch.eye(10), atol=1e-5)


def test_fans_of_conv():
    assert fans(torch.empty(32, 4, 8, 8)) == (4 * 64, 32 * 64)


def test_init_weights_by_name_sets_biases_and_zeros():
    model = MLP(3, [4], 2, init="torch")
    init_weights(model, "zeros", bias=0.5)
    assert all(float(layer.weight.detach().abs().max()) == 0.0 for layer in model.linears)
    assert all(torch.all(layer.bias == 0.5) for layer in model.linears)
    with pytest.raises(BadInput, match="unknown init scheme"):
        init_weights(model, "glorot")


def test_perceptron_rule_by_hand():
    # one update from zero weights on a misclassified positive example: w = x, b = 1
    p = Perceptron(2)
    history = p.fit(torch.tensor([[1.0, 2.0]]), torch.tensor([1.0]), epochs=1)
    assert p.weight.tolist() == [1.0, 2.0] and float(p.bias) == 1.0
    assert history.accuracy == [1.0] and not history.converged  # the epoch had a mistake


def test_nature_cnn_shapes_scaling_and_size():
    gen = torch.Generator().manual_seed(0)
    cnn = NatureCNN(4, 512, generator=gen)
    frames = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8, generator=gen)
    out = cnn(frames)
    assert out.shape == (2, 512) and bool((out >= 0).all())
    assert torch.allclose(out, cnn(frames.float() / 255.0), atol=1e-5)  # scaled inside
    convs = [m for m in cnn.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (32, (8, 8), (4, 4)),
        (64, (4, 4), (2, 2)),
        (64, (3, 3), (1, 1)),
    ]
    assert cnn.head[0].in_features == 64 * 7 * 7
    assert sum(p.numel() for p in cnn.parameters()) == 1_684_128


def test_conv_net_builder_any_size():
    net = conv_net(
        (3, 32, 24), channels=(8, 16), kernels=(5, 3), strides=(2, 1), out_features=7, hidden=(20,)
    )
    assert net(torch.zeros(4, 3, 32, 24)).shape == (4, 7)


def test_lstm_without_starts_is_one_plain_call():
    torch.manual_seed(0)
    lstm = LSTM(3, 5)
    x = torch.randn(6, 2, 3)
    out, (h, c) = lstm(x)
    ref, (h_ref, c_ref) = lstm.lstm(x)
    assert torch.equal(out, ref) and torch.equal(h, h_ref)


def test_lstm_resets_state_at_episode_starts():
    torch.manual_seed(0)
    lstm = LSTM(3, 5)
    x = torch.randn(6, 2, 3)
    state = (torch.randn(1, 2, 5), torch.randn(1, 2, 5))
    starts = torch.zeros(6, 2)
    starts[3, 0] = 1.0  # sequence 0 starts a new episode at t = 3
    out, _ = lstm(x, state, starts)
    # sequence 0 from t = 3 equals a fresh run from zero state on x[3:]
    fresh, _ = lstm.lstm(x[3:, :1])
    assert torch.allclose(out[3:, :1], fresh, atol=1e-6)
    # before the reset, and for sequence 1 throughout, nothing changed
    plain, _ = lstm.lstm(x, state)
    assert torch.allclose(out[:3], plain[:3], atol=1e-6)
    assert torch.allclose(out[:, 1:], plain[:, 1:], atol=1e-6)
    # gradients flow through the whole sequence
    out.sum().backward()
    assert all(p.grad is not None for p in lstm.parameters())


def test_lstm_step_by_step_equals_whole_sequence():
    torch.manual_seed(1)
    lstm = LSTM(2, 4)
    x = torch.randn(5, 3, 2)
    starts = (torch.rand(5, 3) < 0.3).float()
    starts[0, 0], starts[0, 1] = 1.0, 0.0  # one sequence resets at once, one carries its memory
    state0 = (torch.randn(1, 3, 4), torch.randn(1, 3, 4))
    whole, final = lstm(x, state0, starts)
    state = state0
    steps = []
    for t in range(5):
        out, state = lstm(x[t : t + 1], state, starts[t : t + 1])
        steps.append(out)
    assert torch.allclose(torch.cat(steps), whole, atol=1e-6)
    assert torch.allclose(state[0], final[0], atol=1e-6)
    assert torch.allclose(state[1], final[1], atol=1e-6)


def test_torch_default_init_from_a_generator():
    a = MLP(10, [20], 3, init="torch", generator=torch.Generator().manual_seed(0))
    torch.manual_seed(123)  # the global generator must not matter
    b = MLP(10, [20], 3, init="torch", generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    first = a.linears[0]
    bound = 1 / math.sqrt(10)
    assert (
        float(first.weight.detach().abs().max()) <= bound
        and float(first.bias.detach().abs().max()) <= bound
    )
    assert float(first.bias.detach().abs().max()) > 0  # biases drawn too, as in PyTorch


def test_a_channels_last_nature_cnn_lays_its_frames_out_channels_last_and_computes_the_same():
    gen = torch.Generator().manual_seed(0)
    plain = NatureCNN(4, 512, generator=gen)
    last = NatureCNN(4, 512).to(memory_format=torch.channels_last)
    last.load_state_dict(plain.state_dict())  # (the values, in its own layout)
    assert last.convs[0].weight.is_contiguous(memory_format=torch.channels_last)
    seen = []
    last.convs[0].register_forward_hook(lambda m, args, out: seen.append(args[0]))
    plain.convs[0].register_forward_hook(lambda m, args, out: seen.append(args[0]))
    frames = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8, generator=gen)
    out_last, out_plain = last(frames), plain(frames)
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert seen[1].is_contiguous() and not seen[1].is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out_last, out_plain, atol=1e-5)
    out_plain.square().sum().backward()
    out_last.square().sum().backward()
    for p, q in zip(plain.parameters(), last.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-5)
