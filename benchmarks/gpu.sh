#!/usr/bin/env bash
# What needs a GPU, in one script that ends within 8 minutes on one GPU:
#   1. the tests marked gpu (CUDA numerics against the CPU: networks, losses, optimizers,
#      replay batches; a short PPO run on cuda);
#   2. PPO on CartPole (whole process) and Pong (steps/s), ours and SB3 on the same GPU;
#   3. DQN on Pong (training steps/s), ours and SB3 on the same GPU;
#   4. the batched torch CartPole's env steps/s at 65,536 and 1,048,576 envs;
#   5. with two GPUs or more: PPO Pong on 1 and 2 data-parallel ranks (NCCL; it needs a
#      GPU per rank, so one GPU skips it and says so).
# Each part has its own time limit; the JSON lines of the benchmarks are the result.
#
# On a GPU machine without a package index (an image with torch but no RL packages):
# first `bash benchmarks/gpu_wheels.sh` where pip can download, carry the git-ignored
# .whl/ along, and this script installs those wheels and rlkit itself (editable: the
# folders agents/ and envs/ are rlkit.agents and rlkit.envs) before anything else.
set -uo pipefail
cd "$(dirname "$0")/.."
export WANDB_MODE=disabled WANDB_SILENT=true MPLBACKEND=Agg
PY=${PYTHON:-$(command -v python3 || command -v python)}
if [ -d .whl ]; then  # into the interpreter's own site-packages: the benchmarks' child
    # processes set PYTHONPATH themselves, so a --target folder on it would not reach them
    if ! "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .whl/*.whl; then
        echo "site-packages is not writable: the wheels go to /tmp/site on PYTHONPATH (the"
        echo "benchmarks that start child processes with their own PYTHONPATH may not see them)"
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
            --target /tmp/site .whl/*.whl || { echo "the carried wheels did not install"; exit 1; }
        export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
    fi
fi
if ! "$PY" -c "import rlkit.agents" 2>/dev/null; then
    if ! "$PY" -m pip install -q --no-index --no-deps --no-build-isolation -e .; then
        # no install: links in this copy of the tree give the installed layout from here
        echo "rlkit did not install (pip install -e .): linking rlkit/agents, envs, configs"
        for part in agents envs configs; do ln -sfn "../$part" "rlkit/$part"; done
        export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    fi
fi
"$PY" -c "import rlkit.agents, rlkit.envs, gymnasium, ale_py" || { echo "rlkit cannot import"; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
echo "== tests marked gpu"
timeout 90 "$PY" -m pytest -m gpu -q -p no:cacheprovider tests/rlkit/test_gpu.py
echo "== ppo_speed on cuda"
timeout 180 "$PY" benchmarks/ppo_speed.py --device cuda --rounds 1 --pong-iterations 4 | tail -1
echo "== dqn_speed on cuda (Pong)"
timeout 150 "$PY" benchmarks/dqn_speed.py --device cuda --rounds 1 --pong-steps 2000 | tail -1
echo "== batched_envs on cuda"
timeout 45 "$PY" benchmarks/batched_envs.py --device cuda --sizes 65536 1048576 --rounds 3
echo "== ddp_scaling on cuda"
if [ "$("$PY" -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
    timeout 120 "$PY" benchmarks/ddp_scaling.py --device cuda --quick --only pong | tail -1
else
    echo "one GPU: NCCL needs a GPU per rank; skipped"
fi
echo "== done"
