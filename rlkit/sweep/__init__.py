"""Hyperparameter sweeps on Optuna (``rlkit sweep``): search spaces (``space``), running a
study with workers on one machine or many (``study``), and its report (``report``)."""

from rlkit.sweep.space import (
    OBJECTIVES,
    PRUNERS,
    SAMPLERS,
    Param,
    Space,
    TrialReporter,
    check_space,
    decode_choice,
    encode_choice,
    make_pruner,
    make_sampler,
    nest,
    parse_wandb,
    parse_zoo,
    read_space,
)

__all__ = [
    "OBJECTIVES",
    "PRUNERS",
    "SAMPLERS",
    "Param",
    "Space",
    "TrialReporter",
    "check_space",
    "decode_choice",
    "encode_choice",
    "make_pruner",
    "make_sampler",
    "nest",
    "parse_wandb",
    "parse_zoo",
    "read_space",
]
