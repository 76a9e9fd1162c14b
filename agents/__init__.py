"""rlkit agents: one module per algorithm, none importing another.

Each module defines ``ALGO`` (its CLI name), ``FITS`` (which envs it takes), a frozen
``Config`` dataclass, ``check_env(env, config)``, ``train(config, run)`` and
``load_policy(checkpoint, env)``. The CLI finds them through ``ALGORITHMS``.
"""

#: CLI name -> module, in the order the help lists them.
ALGORITHMS: dict[str, str] = {
    "value-iteration": "agents.value_iteration",
    "policy-iteration": "agents.policy_iteration",
    "q-learning": "agents.q_learning",
    "dqn": "agents.dqn",
    "reinforce": "agents.reinforce",
    "a2c": "agents.a2c",
    "ppo": "agents.ppo",
    "recurrent-ppo": "agents.recurrent_ppo",
}
