#!/usr/bin/env bash
# The GPU check, in one go (a few minutes on one GPU), from a clone with the package installed
# (pip install -e ".[dev]" and a TensorFlow that sees the GPU, e.g. 'tensorflow[and-cuda]'):
#
#   benchmarks/gpu_check.sh [CIFAR10_BATCH.bin] [OUT_DIR]      (default OUT_DIR: benchmarks/results/gpu)
#
# 1. the GPU-relevant tests: mixed precision, every flow configuration under XLA, distribution;
# 2. the command line trains on the GPU with XLA and mixed precision (the embedded digits);
# 3. benchmarks/gpu_check.py: the paper's CIFAR-10 model's train / log_prob / sample images per
#    second in float32, mixed_bfloat16 and mixed_float16, with and without XLA, peak GPU memory,
#    and a short training on the batch (OUT_DIR/gpu_check.json and gpu_check.md).
# Logs of each part go to OUT_DIR; the exit status is that of the first part that failed.
set -uo pipefail
cd "$(dirname "$0")/.."
data=${1:-}
out=${2:-benchmarks/results/gpu}
mkdir -p "$out"
export TF_CPP_MIN_LOG_LEVEL=2 PYTHONUNBUFFERED=1
status=0
note() { echo "== $* ($(date -u +%H:%M:%S))"; }

note "device"
nvidia-smi 2>&1 | tee "$out/nvidia_smi.log"
python -c "import tensorflow as tf; print(tf.__version__, tf.config.list_physical_devices('GPU'))" \
    2>&1 | tee "$out/tensorflow.log" || status=1

note "tests"
# Found by name wherever they live under tests/.
mapfile -t gpu_tests < <(find tests -name test_mixed_precision.py -o -name test_training_jit.py \
    -o -name test_distribute.py | sort)
if [ ${#gpu_tests[@]} -eq 0 ]; then
    echo "no GPU-relevant tests found under tests/" | tee "$out/tests.log"
    [ $status -ne 0 ] || status=2
else
    python -m pytest -q -p no:cacheprovider -m "slow or not slow" "${gpu_tests[@]}" \
        2>&1 | tee "$out/tests.log"
    test "${PIPESTATUS[0]}" -eq 0 || { [ $status -ne 0 ] || status=2; }
fi

note "command line on the GPU"
python -m tfp_realnvp.cli train --logdir "$out/digits_run" --epochs 2 --steps-per-epoch 50 \
    --validation-steps 2 --jit-compile --mixed-precision --verbose 2 2>&1 | tee "$out/cli.log"
test "${PIPESTATUS[0]}" -eq 0 || { [ $status -ne 0 ] || status=3; }

note "speed and memory"
python benchmarks/gpu_check.py ${data:+--cifar10-batch "$data"} --out "$out" 2>&1 \
    | tee "$out/gpu_check.log"
test "${PIPESTATUS[0]}" -eq 0 || { [ $status -ne 0 ] || status=4; }

note "done, status $status"
exit $status
