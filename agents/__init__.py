"""rlkit agents: one module per algorithm, none importing another.

Each module defines ``ALGO`` (its CLI name), ``FITS`` (which envs it takes), ``RESUMABLE``
(its checkpoints continue a run exactly), a frozen ``Config`` dataclass,
``check_env(env, config)``, ``train(config, run)`` and ``load_policy(checkpoint, env,
device, seed)``; planners set ``PLANNER = True``. The library layer (``rlkit.launch``)
finds them through ``ALGORITHMS``; docs/design.md says how to add one.
"""

#: CLI name -> module, in the order the help lists them.
ALGORITHMS: dict[str, str] = {
    "value-iteration": "rlkit.agents.value_iteration",
    "policy-iteration": "rlkit.agents.policy_iteration",
    "policy-evaluation": "rlkit.agents.policy_evaluation",
    "q-learning": "rlkit.agents.q_learning",
    "dqn": "rlkit.agents.dqn",
    "reinforce": "rlkit.agents.reinforce",
    "a2c": "rlkit.agents.a2c",
    "ppo": "rlkit.agents.ppo",
    "recurrent-ppo": "rlkit.agents.recurrent_ppo",
}
