#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU, PyTorch and transformers, no network: builds a
# ~100M-parameter random-init Llama offline, runs one TRAIN and one ROLLOUT (plus their small
# EVALs) through `limolab run` (coordinator, worker, HfRunner, runners/torch) on CUDA, and prints
# tokens/s, MFU and the ledger rows. Under 8 minutes on one data-centre GPU.
#   scripts/gpu-check.sh                    # CUDA; fails at once, saying why, without it
#   scripts/gpu-check.sh --device cpu --tiny   # the same path on CPU with a tiny model (CI runs this)
#   scripts/gpu-check.sh --peak-tflops 67   # MFU against this peak (default: a table by GPU name)
#   scripts/gpu-check.sh --keep             # keep its work dir (model, data, database); removed by default
# Python: $LIMOLAB_PYTHON, else ./.venv/bin/python, else python3.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bin/limolab-tsx.js scripts/gpu-check.ts "$@"
