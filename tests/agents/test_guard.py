"""The NaN guard: an absurd learning rate stops the run with one line; good checkpoints stay."""

import math

import pytest
import torch

from rlkit.checkpoint import load_checkpoint
from rlkit.guard import NonFinite, check


def test_check_names_the_quantity_and_the_step():
    check(3, {"train/loss": 1.0, "train/grad_norm": 2.0}, [("w", torch.ones(2))])
    with pytest.raises(NonFinite, match=r"loss train/loss=nan at step 7"):
        check(7, {"train/loss": math.nan})
    with pytest.raises(NonFinite, match=r"gradient norm train/grad_norm=inf at step 8"):
        check(8, {"train/grad_norm": math.inf})
    with pytest.raises(NonFinite, match=r"parameter layer.weight at step 9"):
        check(
            9, {}, [("layer.bias", torch.zeros(2)), ("layer.weight", torch.tensor([1.0, math.nan]))]
        )
    check(1, {"updates": 3, "flag": True}, [("count", torch.tensor(5))])  # ints and bools pass


@pytest.mark.parametrize(
    "algo,args,first_bad",
    [
        ("dqn", ("learning_starts=500", "checkpoint_interval=500"), 512),
        ("ppo", ("checkpoint_interval=256",), 256),
        ("a2c", ("checkpoint_interval=8",), None),  # RMSprop takes a few updates to blow up
        ("reinforce", ("checkpoint_interval=1",), None),
    ],
)
def test_an_absurd_learning_rate_stops_the_run_and_keeps_the_last_good_checkpoint(
    cli, tmp_path, algo, args, first_bad
):
    code, _, err = cli(
        "train",
        algo,
        "CartPole-v1",
        "learning_rate=1e30",
        "total_steps=5000",
        *args,
        "--wandb",
        "disabled",
        "--run-dir",
        "r",
    )
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "non-finite" in err and "at step" in err
    if first_bad is not None:
        assert f"at step {first_bad};" in err
    assert not (tmp_path / "r" / "summary.json").exists()
    latest = tmp_path / "r" / "checkpoints" / "latest.pt"
    if latest.exists():  # whatever was saved is finite
        state = load_checkpoint(latest)
        nets = [v for k, v in state.items() if k in ("net", "q_net", "target_net")]
        for net in nets:
            assert all(torch.isfinite(t).all() for t in net.values() if t.is_floating_point())
    if algo == "a2c":  # checkpoints after every good update: the last one precedes the bad step
        bad = int(err.split("at step ")[1].split(";")[0])
        assert 0 < load_checkpoint(latest)["step"] < bad
    if algo == "dqn":  # saved at step 500, before any learning: the run can still be evaluated
        assert load_checkpoint(latest)["step"] == 500
        code, _, err = cli("eval", "r", "--episodes", "1")
        assert code == 0, err
