import pytest

from rlkit.errors import BadInput
from rlkit.schedules import linear_schedule, schedule


def test_linear_schedule():
    assert linear_schedule(1.0, 0.1, 0.5, 0.0) == 1.0
    assert linear_schedule(1.0, 0.1, 0.5, 0.25) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 0.5, 0.9) == pytest.approx(0.1)
    assert linear_schedule(1.0, 0.1, 0.0, 0.0) == 0.1


def test_schedule_constant_and_rl_zoo_linear():
    assert schedule(3e-4)(0.7) == 3e-4
    lin = schedule("lin_2.5e-4")
    assert lin(0.0) == 2.5e-4 and lin(0.5) == pytest.approx(1.25e-4) and lin(1.0) == 0.0
    assert lin(1.5) == 0.0  # clamped


@pytest.mark.parametrize("bad", ["lin_", "lin_x", "cos_0.1", True, None])
def test_bad_schedules_name_the_key(bad):
    with pytest.raises(BadInput, match="learning_rate"):
        schedule(bad, "learning_rate")
