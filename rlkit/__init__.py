"""rlkit: reinforcement-learning agents on a small, tested supervised-learning core.

The ``rlkit`` package is the foundation. It imports neither ``agents`` nor ``envs``
(only ``rlkit.cli`` does): configs, seeding, the run directory, the Logger,
checkpoints, evaluation and the Bellman operators of tabular MDPs live here.
"""

from rlkit.errors import BadInput

__version__ = "0.1.0"
__all__ = ["BadInput", "__version__"]
