#!/bin/bash
# Round three on the GPU machine (one H200): the Qwen2.5-Coder-1.5B adapter (preset gpu15: FIM
# middles weighted up, hand-written projects in the corpus), then the large-scale FIM generation
# on the test holes with transformers. Every phase is one call of the device tool, back to back
# so that the machine stays warm (it is given back after ~30 s idle):
#
#   bash models/device/train_round3.sh prep       # carried: .device/data3 .whl; starts the data build
#   bash models/device/gpu_serving.sh carry .device/p15/mNN   # x27, 40 MiB pieces of the 1.5B GGUF
#   bash models/device/train_round3.sh train      # carried: .device/prompts3 (the test holes' prompts)
#                                                 # join + sha256, save-base, then training and generation
#                                                 # in the background; the call follows the log
#   bash models/device/train_round3.sh wait       # follows the log to the end; the results go to $OUT
#
# Pieces and data are made here with:
#   split -b 40m -d ~/.cache/asm-lsp/models/qwen2.5-coder-1.5b-instruct-q4_k_m-cc324af070c2.gguf .device/p15/m
#   python -m models.dataset export --corpus models/work/corpus --tokenizer models/work/tokenizer --out .device/data3 ...
#   python -m models.evaluate export-prompts --source test --corpus models/work/corpus_test ... \
#       --out .device/prompts3/prompts-test-h24b8.jsonl.gz
# Environment: TRAIN_S (seconds of training, default 480), GEN_BASE (non-empty: also the 1.5B base's answers), PRESET (gpu15; tiny for a CPU dry run),
# GEN_LIMIT (generate for only the first N prompts: the dry run), SETS (extra --set NAME=VALUE words for
# the data build and the run, e.g. "--set context_fraction=0.3").
set -u
phase=$1; shift
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
SHA15=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
LOG=/tmp/r3.log
source "$(dirname "$0")/lib.sh"  # follow
case "$phase" in
prep)
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>/dev/null
  mkdir -p /tmp/r3 && cp -r .device/data3 /tmp/r3/ && touch /tmp/r3.log
  nvidia-smi --query-gpu=name,memory.used --format=csv,noheader; nproc
  cat > /tmp/r3/data.sh <<EOF
export PYTHONPATH=/tmp/site:$PWD/server:$PWD TOKENIZERS_PARALLELISM=false
cd $PWD
start=\$(date +%s)
python3 -m models.dataset build --corpus /tmp/r3/data3 --tokenizer /tmp/r3/data3 --out /tmp/data3 --jobs 16 --preset ${PRESET:-gpu15} ${SETS:-} 2>&1 | tail -14 >> /tmp/r3.log
echo "data built in \$(( \$(date +%s) - start )) s" >> /tmp/r3.log
touch /tmp/r3/data.done
EOF
  setsid nohup bash /tmp/r3/data.sh > /dev/null 2>&1 < /dev/null &
  sleep 3; echo "data build started" ;;
train)
  [ -f /tmp/base15.gguf ] || cat /tmp/store/m* > /tmp/base15.gguf
  echo "$SHA15  /tmp/base15.gguf" | sha256sum -c || exit 1
  rm -f /tmp/store/m*
  cp .device/prompts3/prompts-test-h24b8.jsonl.gz /tmp/r3/ || exit 1
  cat > /tmp/r3/train.sh <<EOF
export PYTHONPATH=/tmp/site:$PWD/server:$PWD TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
cd $PWD
t0=\$(date +%s)
python3 -m models.train save-base --base /tmp/base15.gguf --out /tmp/base15-hf 2>&1 | tail -1 >> /tmp/r3.log
echo "base saved in \$(( \$(date +%s) - t0 )) s" >> /tmp/r3.log
while [ ! -f /tmp/r3/data.done ]; do sleep 2; done
t1=\$(date +%s)
python3 -m models.train run --data /tmp/data3 --base /tmp/base15-hf --out /tmp/run3 --preset ${PRESET:-gpu15} \
    --time-budget-s ${TRAIN_S:-480} --fit-budget ${SETS:-} 2>&1 | grep -E '^\{|^model ready|^done|^paused|Error|error' | cut -c1-400 >> /tmp/r3.log
echo "training ended after \$(( \$(date +%s) - t1 )) s" >> /tmp/r3.log
P=/tmp/r3/prompts-test-h24b8.jsonl.gz
[ -n "${GEN_BASE:-}" ] && python3 -m models.hf_generate --base /tmp/base15-hf --tokenizer /tmp/r3/data3 --prompts \$P --out /tmp/out3/gen-b15.jsonl --batch 64 ${GEN_LIMIT:+--limit $GEN_LIMIT} 2>&1 | tail -2 >> /tmp/r3.log
python3 -m models.hf_generate --base /tmp/base15-hf --tokenizer /tmp/r3/data3 --adapter /tmp/run3/adapter --prompts \$P --out /tmp/out3/gen-r3.jsonl --batch 64 ${GEN_LIMIT:+--limit $GEN_LIMIT} 2>&1 | tail -2 >> /tmp/r3.log
python3 -m models.train fp16-adapter --run /tmp/run3 --out /tmp/a16/adapter >> /tmp/r3.log 2>&1  # + report, log
cp /tmp/data3/report.json /tmp/out3/data_report.json
python3 -c "import numpy as np; np.save('/tmp/out3/valid_fim.u32.npy', np.load('/tmp/data3/valid_fim.u32.npy')[:64])"
tar cf /tmp/a3.tar -C /tmp/a16 adapter && echo "packed in all \$(( \$(date +%s) - t0 )) s" >> /tmp/r3.log
touch /tmp/r3/train.done
EOF
  mkdir -p /tmp/out3
  setsid nohup bash /tmp/r3/train.sh > /tmp/r3/train.out 2>&1 < /dev/null &
  follow /tmp/r3/train.done ${FOLLOW_S:-560} ;;
wait)
  follow /tmp/r3/train.done ${FOLLOW_S:-560}
  cat /tmp/r3/train.out | tail -5
  if [ -f /tmp/r3/train.done ]; then
    split -b 15M -d /tmp/a3.tar $OUT/adapter3.tar.
    cp /tmp/out3/* /tmp/r3.log $OUT/ 2>/dev/null
    ls -la $OUT
  fi ;;
*) echo "unknown phase $phase"; exit 2 ;;
esac
