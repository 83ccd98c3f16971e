#!/usr/bin/env bash
# GPU figures of the floor (benchmarks/minimal_xgb.py): xgboost `device="cuda"` training and GPU
# TreeSHAP at 1M and 10M rows (host threads: the config's n_jobs, then all cores at 10M), beside
# the same script on all the machine's CPU cores at 1M rows.
#
#     benchmarks/bench_gpu.sh [PYTHON]
#
# Needs an NVIDIA GPU and the `xgboost` wheel built with CUDA (the project pins `xgboost-cpu`:
# nothing in rootcast depends on a GPU). Panels are generated under /tmp/scale-1m and
# /tmp/scale-10m (benchmarks/scale_panel.py, ~0.3 GB and ~2.5 GB of Parquet). Peak GPU memory and
# mean GPU utilisation are read from nvidia-smi's `memory.used` and `utilization.gpu`, sampled
# every 0.2 s while each run goes.
set -euo pipefail
py=${1:-python3}
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$py" -c "import sys, xgboost; print('xgboost', xgboost.__version__); sys.exit(not xgboost.build_info()['USE_CUDA'])" ||
    { echo "this xgboost has no CUDA: pip uninstall xgboost-cpu && pip install xgboost" >&2; exit 1; }
echo "CPU cores: $(nproc)"

run() {  # run NAME ARGS...: the floor with a GPU-memory sampler beside it
    local name=$1; shift
    nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader,nounits -lms 200 \
        >"/tmp/gpu-$name.log" &
    sampler=$!
    trap 'kill "$sampler" 2>/dev/null' EXIT  # no sampler left running if the run fails
    echo "== $name: minimal_xgb.py $*"
    "$py" benchmarks/minimal_xgb.py "$@"
    kill "$sampler"
    awk -F', ' '$1 > m {m = $1} {u += $2; n++} END {printf "peak GPU memory used %d MiB, mean GPU utilisation %.0f %%\n", m, u / n}' \
        "/tmp/gpu-$name.log"
}

for size in "1m 4200" "10m 41667"; do
    set -- $size
    [ -d "/tmp/scale-$1/panel" ] || "$py" benchmarks/scale_panel.py --cells "$2" --months 240 --out "/tmp/scale-$1" >/dev/null
    run "cuda-$1" --panel "/tmp/scale-$1/panel" --device cuda
done
run "cuda-10m-all-cores" --panel /tmp/scale-10m/panel --device cuda --n-jobs "$(nproc)"
run "cpu-1m" --panel /tmp/scale-1m/panel --device cpu --n-jobs "$(nproc)"
