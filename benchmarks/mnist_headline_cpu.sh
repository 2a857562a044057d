#!/usr/bin/env bash
# The MNIST headline pipeline on a CPU (docs/results.md): the GPU file's sweep with a smaller budget (SAMPLES
# trials of up to 15 epochs on MNIST's own 50k / 10k train / validation split, TPE + ASHA, 2 at a time, 1 CPU
# each), best.yaml, then the tuned config, the write-up's two hand-tuned configs and the ablation (hand-tuned
# Adam + BN with a cosine schedule) trained the same way: all 60k (train + validation), 15 epochs, seeds SEEDS,
# one thread each, evaluated once on the 10k test images: every row of docs/results.md's first table.
# The published figures come from a sweep stopped by Ctrl-C after 10 of its 16 trials (docs/results.md says
# why); this script runs all SAMPLES, so its best config may differ.
# Usage: benchmarks/mnist_headline_cpu.sh OUT [SAMPLES] [SEEDS]   (needs `hwk4tune data fetch mnist`)
# Cost: about 34 s of one core per epoch of 60k images (measured figures: docs/results.md).
set -euo pipefail
OUT=${1:?usage: $0 OUT [SAMPLES] [SEEDS]}
SAMPLES=${2:-16}
SEEDS=${3:-"0 1 2"}
HW=${HWK4TUNE:-hwk4tune}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
start=$(date +%s)
# Ctrl-C stops the sweep (resumable: hwk4tune resume OUT/sweep); best.yaml is then taken from what ran
$HW run launch/mnist_headline.yaml --storage "$OUT" --name sweep --quiet --set num_samples="$SAMPLES" \
  --set resources_per_trial.gpu=0 --set resources_per_trial.cpu=1 --max-concurrent 2 || [ $? -eq 130 ]
echo "sweep wall seconds: $(( $(date +%s) - start ))" | tee "$OUT/sweep_seconds.txt"
$HW table "$OUT/sweep" > "$OUT/sweep_table.md"
$HW best "$OUT/sweep" -o "$OUT/best.yaml"
for seed in $SEEDS; do
  for cfg in tuned:"$OUT/best.yaml" seed_sgd:launch/mnist_seed/sgd.yaml seed_adam_bn:launch/mnist_seed/adam_bn.yaml \
      ablation_adam_bn_cosine:launch/mnist_seed/adam_bn_cosine.yaml; do
    name=${cfg%%:*}; file=${cfg#*:}
    $HW train "$file" --epochs 15 --seed "$seed" --out "$OUT/$name-s$seed" --quiet
  done
done
echo "total wall seconds: $(( $(date +%s) - start ))" | tee -a "$OUT/sweep_seconds.txt"
# one line per run: its test accuracy
grep -H '"test_accuracy"' "$OUT"/*-s*/metrics.json
