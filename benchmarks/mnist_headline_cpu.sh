#!/usr/bin/env bash
# The MNIST headline pipeline with a CPU-sized budget (docs/results.md): a small sweep on a 12k subset,
# best.yaml, then the tuned config and the write-up's two hand-tuned configs trained on the full 60k
# (train + validation) for EPOCHS epochs with seeds SEEDS, each evaluated once on the 10k test images.
# Usage: benchmarks/mnist_headline_cpu.sh OUT [EPOCHS] [SEEDS]     (needs `hwk4tune data fetch mnist`)
set -euo pipefail
OUT=${1:?usage: $0 OUT [EPOCHS] [SEEDS]}
EPOCHS=${2:-3}
SEEDS=${3:-"0 1 2"}
HW=${HWK4TUNE:-hwk4tune}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
start=$(date +%s)
$HW run launch/mnist_headline.yaml --storage "$OUT" --name sweep --quiet \
  --set num_samples=12 --set max_epochs=3 --set dataset.subset=12000 \
  --set resources_per_trial.gpu=0 --set resources_per_trial.cpu=1 --max-concurrent 2
echo "sweep wall seconds: $(( $(date +%s) - start ))" | tee "$OUT/sweep_seconds.txt"
$HW table "$OUT/sweep" > "$OUT/sweep_table.md"
$HW best "$OUT/sweep" -o "$OUT/best_subset.yaml"
# train on all of MNIST: drop the sweep's subset
grep -v "subset:" "$OUT/best_subset.yaml" > "$OUT/best.yaml"
for seed in $SEEDS; do
  for cfg in tuned:"$OUT/best.yaml" seed_sgd:launch/mnist_seed/sgd.yaml seed_adam_bn:launch/mnist_seed/adam_bn.yaml; do
    name=${cfg%%:*}; file=${cfg#*:}
    $HW train "$file" --epochs "$EPOCHS" --seed "$seed" --out "$OUT/$name-s$seed" --quiet
  done
done
echo "total wall seconds: $(( $(date +%s) - start ))" | tee -a "$OUT/sweep_seconds.txt"
