#!/usr/bin/env bash
# Fine-tune the default model on a GPU machine from a prepared pack (see training/finetune.py).
# Three runs share the GPU: the shipped model (all data) and two held-out-domain runs
# that measure accuracy on review domains the model never saw.
#   usage: tools/gpu_finetune.sh PACK OUTDIR
set -u
pack=$1
out=$2
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
run() {  # name, extra args...
  local name=$1
  shift
  python3 -c "import sys; from training.finetune import main_train; sys.exit(main_train(sys.argv[1:]))" \
    --reuse-pack --pack "$pack" --out "$out/$name" --max-seconds 330 "$@" 2>&1 |
    sed "s/^/[$name] /"
}
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader
run full &
run h_fruit --holdout 水果 &
run h_hotel --holdout 酒店 &
wait
# at most 8 files travel back: keep the weights, the fruit run's predictions, print the rest
cat "$out"/*/train_metrics.json
rm -rf "$out/h_hotel" "$out/full/manifest.json"
ls -la "$out"/*
