import random

import numpy as np
import torch

from rlkit.seeding import make_rngs


def test_same_seed_same_streams():
    a, b = make_rngs(3), make_rngs(3)
    assert a.numpy.random() == b.numpy.random()
    assert torch.equal(torch.rand(5, generator=a.torch), torch.rand(5, generator=b.torch))
    assert a.python.random() == b.python.random()
    assert (a.env_seed, a.eval_seed) == (b.env_seed, b.eval_seed)


def test_streams_differ_between_seeds_and_from_each_other():
    a, b = make_rngs(0), make_rngs(1)
    assert a.numpy.random() != b.numpy.random()
    assert a.env_seed != b.env_seed
    assert a.env_seed != a.eval_seed


def test_generators_do_not_read_global_state():
    a = make_rngs(5, seed_globals=False)
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    x = a.numpy.random()
    b = make_rngs(5, seed_globals=False)
    random.seed(999)
    np.random.seed(999)
    torch.manual_seed(999)
    assert b.numpy.random() == x


def test_bad_seed():
    import pytest

    with pytest.raises(ValueError):
        make_rngs(-1)
