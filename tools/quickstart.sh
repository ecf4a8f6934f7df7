#!/usr/bin/env bash
# The built-in default job (README): generate the synthetic long-tailed
# benchmark, evaluate zero-shot CLIP with the shipped tiny CLIP, then train
# and test LMPT on it, and print the group-mAP table. One status line per
# run; the tools' full output is in train.log / test.log of each run folder
# (pass --verbose to stream it).
# Usage: bash tools/quickstart.sh [extra benchmark_table.py args]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK_DIR=${WORK_DIR:-work_dirs/quickstart}

python tools/dataset_converters/generate_synthetic.py --out data/synthetic
python tools/analysis_tools/benchmark_table.py \
    configs/synthetic/clip_tinyclip_zeroshot_synthetic.py \
    configs/synthetic/lmpt_tinyclip_synthetic.py \
    --seeds 0 --work-dir "$WORK_DIR" --out "$WORK_DIR/table.md" "$@"
echo
echo "Logs (train.log, test.log), checkpoints and metrics: $WORK_DIR/<config>/seed0/"
echo "LMPT checkpoint: $(ls -1 "$WORK_DIR"/lmpt_tinyclip_synthetic/seed0/epoch_*.pth | tail -n 1)"
