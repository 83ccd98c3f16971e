#!/usr/bin/env bash
# GPU figures of the floor (benchmarks/minimal_xgb.py): xgboost `device="cuda"` training and GPU
# TreeSHAP at 1M and 10M rows (host threads: the config's n_jobs, then all cores at 10M), beside
# the same script on all the machine's CPU cores at 1M rows.
#
#     benchmarks/bench_gpu.sh [PYTHON]
#
# Needs an NVIDIA GPU and the `xgboost` wheel built with CUDA (the project pins `xgboost-cpu`:
# nothing in rootcast depends on a GPU). Panels are generated under /tmp/scale-1m and
# /tmp/scale-10m (benchmarks/scale_panel.py, ~1 GB and ~9 GB of Parquet). Peak GPU memory is
# the highest `memory.used` that nvidia-smi reported while each run went (sampled every 0.2 s).
set -euo pipefail
py=${1:-python3}
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$py" -c "import xgboost; print('xgboost', xgboost.__version__, 'CUDA', xgboost.build_info()['USE_CUDA'])"
echo "CPU cores: $(nproc)"

run() {  # run NAME ARGS...: the floor with a GPU-memory sampler beside it
    local name=$1; shift
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"/tmp/gpu-$name.log" &
    local sampler=$!
    echo "== $name: minimal_xgb.py $*"
    "$py" benchmarks/minimal_xgb.py "$@"
    kill "$sampler"
    echo "peak GPU memory used $(sort -n "/tmp/gpu-$name.log" | tail -1) MiB"
}

for size in "1m 4200" "10m 41667"; do
    set -- $size
    [ -d "/tmp/scale-$1/panel" ] || "$py" benchmarks/scale_panel.py --cells "$2" --months 240 --out "/tmp/scale-$1" >/dev/null
    run "cuda-$1" --panel "/tmp/scale-$1/panel" --device cuda
done
run "cuda-10m-all-cores" --panel /tmp/scale-10m/panel --device cuda --n-jobs "$(nproc)"
run "cpu-1m" --panel /tmp/scale-1m/panel --device cpu --n-jobs "$(nproc)"
