#!/usr/bin/env bash
# On the device machine (a GPU host with 16 cores): build mpsnn, run the LSTM
# tests and the CPU benchmarks there, results under $OUT. Wheels the machine
# lacks (scipy-openblas32) travel in .whl/ (ignored): carry it.
set -euo pipefail
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
{ nproc; lscpu | grep -E "Model name|MHz|L2|L3|Thread|Core"; nvidia-smi -L || true; } | tee "$OUT/machine.txt"
python3 -m pip install -q --no-build-isolation --no-deps . 2>&1 | tee "$OUT/build.log" | tail -3
export PYTHONUNBUFFERED=1
python3 -m pytest -q -p no:cacheprovider tests/python/test_bnns_lstm.py tests/python/test_bnns_lstm_torch.py \
  tests/python/test_training.py 2>&1 | tee "$OUT/tests.log" | tail -3
python3 benchmarks/lstm_cpu.py "$@" 2>&1 | tee "$OUT/lstm_cpu.txt" || true  # exits 1 when a target is missed
cp benchmarks/results/lstm_cpu.json "$OUT/"
