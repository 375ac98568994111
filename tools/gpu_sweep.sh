#!/usr/bin/env bash
# Hyper-parameter check on a GPU machine: each config trained twice, once with the 水果
# domain held out and once with all hotel reviews held out; prints held-out accuracy only.
#   usage: tools/gpu_sweep.sh PACK
set -u
pack=$1
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
run() {  # name, extra args...
  local name=$1
  shift
  python3 -c "import sys; from training.finetune import main_train; sys.exit(main_train(sys.argv[1:]))" \
    --reuse-pack --pack "$pack" --out "/tmp/sweep/$name" --max-seconds 300 "$@" 2>&1 |
    grep -E "holdout_binary|time limit" | sed "s/^/[$name] /"
}
for h in 水果 酒店; do
  run "lr5e-5_$h" --holdout "$h" --lr 5e-5 &
  run "ep2_$h" --holdout "$h" --epochs 2 &
  run "lr2e-4_$h" --holdout "$h" --lr 2e-4 &
  run "bt4096_$h" --holdout "$h" --lr 5e-5 --batch-tokens 4096 &
done
wait
