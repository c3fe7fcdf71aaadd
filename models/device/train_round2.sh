#!/bin/bash
# Round two on the GPU machine. Phase 1: base + data + first training segment; 2: resume;
# 3: resume to the end, then the large-scale evaluation (hf_generate / hf_embed) if present.
# Every phase packs what it has into $OUT (tar split in 15 MiB pieces).
set -u
PHASE=$1; shift
END=${END:-585}
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>/dev/null
export PYTHONPATH=/tmp/site:$PWD/server:$PWD
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader
if [ ! -f /tmp/base-hf/model.safetensors ]; then
  cat /tmp/store/c* > /tmp/base.gguf
  echo "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32  /tmp/base.gguf" | sha256sum -c || exit 1
  python3 -m models.train save-base --base /tmp/base.gguf --out /tmp/base-hf 2>&1 | tail -1
  echo "base saved at ${SECONDS}s"
fi
if [ ! -f /tmp/data/report.json ]; then
  python3 -m models.dataset build --corpus .device/data2 --tokenizer .device/data2 --out /tmp/data --jobs 16 --preset gpu 2>&1 | tail -14
  echo "data built at ${SECONDS}s"
fi
RESUME=""; [ "$PHASE" != 1 ] && RESUME="--resume"
BUDGET=$((${TRAIN_END:-$END} - SECONDS))
echo "training budget ${BUDGET}s"
python3 -m models.train run --data /tmp/data --base /tmp/base-hf --out /tmp/run --preset gpu --time-budget-s $BUDGET $RESUME "$@" 2>&1 \
  | grep -E '^\{|^model ready|^resumed|^done|^paused|Error|error' | grep -v '"step": [0-9]*[1-9]0,\|"step": [0-9]*[1-9]5,' | cut -c1-320
echo "training ended at ${SECONDS}s"
mkdir -p /tmp/pack && cp /tmp/data/report.json /tmp/pack/data_report.json
python3 -c "import numpy as np; np.save('/tmp/pack/valid_fim.u32.npy', np.load('/tmp/data/valid_fim.u32.npy')[:64])"
if [ "$PHASE" = 3 ] && [ -x .device/bin/eval.sh ]; then bash .device/bin/eval.sh; fi
cd /tmp/run && tar cf - adapter train_report.json log.jsonl -C /tmp/pack . 2>/dev/null | split -b 15M -d - $OUT/run.tar.
ls -la $OUT; echo "phase $PHASE took ${SECONDS}s"
