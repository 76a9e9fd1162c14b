"""rlkit: reinforcement-learning agents on a small, tested supervised-learning core.

The Python API (``rlkit.api``)::

    import rlkit
    agent = rlkit.train("ppo", "CartPole-v1", total_steps=50_000)
    actions, _ = agent.predict(obs)
    agent.evaluate(episodes=10)

``train``, ``load``, ``make_vector_env``, ``evaluate_policy`` and ``Agent`` are imported on
first use, so that ``import rlkit.nn`` (the foundation) does not pull in agents and envs.
The layers and their import direction are described in ``docs/design.md``.
"""

from typing import Any

from rlkit.errors import BadInput, RunFailed, Stopped

__version__ = "0.1.0"
_API = ("Agent", "train", "load", "make_vector_env", "evaluate_policy")
__all__ = ["BadInput", "RunFailed", "Stopped", "__version__", *_API]


def __getattr__(name: str) -> Any:
    """``rlkit.train`` and the rest of the API, imported from ``rlkit.api`` when first used."""
    if name in _API:
        from rlkit import api

        return getattr(api, name)
    raise AttributeError(f"module 'rlkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
