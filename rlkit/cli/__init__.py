"""The command layer: the one place where rlkit, agents and envs meet."""
