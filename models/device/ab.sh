#!/bin/bash
# One adapter or two? A/B on the GPU machine: the round-two data and config, 320 steps each,
# InfoNCE weight 0.1 ("nce", as shipped) vs 0 ("fim"), then the same FIM prompts and retrieval
# texts as eval_round2.sh for both. Phase 1: base, data, run nce; phase 2: run fim, evaluate both.
set -u
PHASE=$1
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>/dev/null
export PYTHONPATH=/tmp/site:$PWD/server:$PWD
if [ ! -f /tmp/base-hf/model.safetensors ]; then
  cat /tmp/store/c* > /tmp/base.gguf
  echo "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32  /tmp/base.gguf" | sha256sum -c || exit 1
  python3 -m models.train save-base --base /tmp/base.gguf --out /tmp/base-hf 2>&1 | tail -1
fi
if [ ! -f /tmp/data/report.json ]; then
  python3 -m models.dataset build --corpus .device/data2 --tokenizer .device/data2 --out /tmp/data --jobs 16 --preset gpu 2>&1 | tail -3
  echo "data built at ${SECONDS}s"
fi
train() {  # name weight end_second
  local R=""
  grep -q '"status": "done"' /tmp/run-$1/train_report.json 2>/dev/null && return 0
  [ -d /tmp/run-$1/ckpt ] && R="--resume"
  python3 -m models.train run --data /tmp/data --base /tmp/base-hf --out /tmp/run-$1 --preset gpu \
    --time-budget-s $(($3 - SECONDS)) --set max_steps=${MAXSTEPS:-320} --set eval_every=160 --set contrastive_weight=$2 $R 2>&1 \
    | grep -E '^\{"eval|^done|^paused|^resumed|Error' | cut -c1-300
  echo "$1 ended at ${SECONDS}s"
}
P=models/work/eval/prompts-test-h24b8.jsonl.gz; T=bench/work/retrieval/texts.jsonl.gz
if [ "$PHASE" = 1 ]; then
  train nce 0.1 585
else
  train nce 0.1 300
  train fim 0 470
  for n in nce fim; do
    grep -q '"status": "done"' /tmp/run-$n/train_report.json || continue
    python3 -m models.hf_generate --base /tmp/base-hf --tokenizer .device/tok --adapter /tmp/run-$n/adapter \
      --prompts $P --out $OUT/gen-$n.jsonl --batch 64 2>&1 | tail -1
    python3 -m models.hf_embed --base /tmp/base-hf --tokenizer .device/tok --texts $T --pooling mean \
      --adapter /tmp/run-$n/adapter --out /tmp/$n-mean.npz 2>&1 | tail -1
    python3 -c "
import numpy as np; d=np.load('/tmp/$n-mean.npz'); v=d['vectors'].astype(np.float32)
np.savez('$OUT/$n-mean.npz', keys=d['keys'], vectors_i8=np.clip(np.round(v*127),-127,127).astype(np.int8), meta=d['meta'])"
    cp /tmp/run-$n/train_report.json $OUT/report-$n.json
  done
fi
ls -la $OUT; echo "phase $PHASE took ${SECONDS}s"
