"""Action distributions against torch.distributions, and their samples' frequencies."""

import torch

from rlkit.distributions import Categorical, DiagGaussian


def test_categorical_matches_torch():
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    ours, ref = Categorical(logits), torch.distributions.Categorical(logits=logits)
    actions = torch.tensor([0, 3, 1, 2, 3])
    assert torch.allclose(ours.log_prob(actions), ref.log_prob(actions), atol=1e-6)
    assert torch.allclose(ours.entropy(), ref.entropy(), atol=1e-6)
    assert torch.equal(ours.mode(), logits.argmax(dim=1))


def test_categorical_samples_follow_the_probabilities():
    probs = torch.tensor([0.1, 0.6, 0.3])
    dist = Categorical(probs.log().expand(20000, 3))
    counts = torch.bincount(dist.sample(torch.Generator().manual_seed(1)), minlength=3) / 20000
    assert torch.allclose(counts, probs, atol=0.015)


def test_diag_gaussian_matches_torch():
    g = torch.Generator().manual_seed(2)
    mean, log_std = torch.randn(6, 3, generator=g), torch.randn(3, generator=g) * 0.5
    ours = DiagGaussian(mean, log_std)
    ref = torch.distributions.Independent(torch.distributions.Normal(mean, log_std.exp()), 1)
    actions = torch.randn(6, 3, generator=g)
    assert torch.allclose(ours.log_prob(actions), ref.log_prob(actions), atol=1e-5)
    assert torch.allclose(ours.entropy(), ref.entropy(), atol=1e-5)
    samples = DiagGaussian(mean[:1].expand(20000, 3), log_std).sample(g)
    assert torch.allclose(samples.mean(0), mean[0], atol=0.05)
    assert torch.allclose(samples.std(0), log_std.exp(), rtol=0.05)
