#!/usr/bin/env bash
# The wheels benchmarks/gpu.sh needs on a GPU machine that cannot reach a package index
# (its image has torch, numpy, pandas, matplotlib, opencv, pytest, but none of the RL
# packages): run here, where pip can download, then carry .whl/ (git-ignored) along with
# the working tree; gpu.sh installs them first. The versions are this machine's.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
version() { "$PY" -c "import importlib.metadata as m; print(m.version('$1'))"; }
rm -rf .whl && mkdir -p .whl
# setuptools too: the editable install of rlkit needs >= 68 (pyproject.toml)
for name in gymnasium farama-notifications ale-py stable-baselines3 sb3-contrib minatar setuptools; do
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "$name==$(version "$name")"
done
du -sh .whl && ls .whl
