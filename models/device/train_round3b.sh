#!/bin/bash
# Round three, second lease, on the GPU machine (one H200): both models trained on from their
# shipped adapters (--init-adapter), one after the other, on one data build (preset gpu3: round
# three's data with 30 % of full windows given a 320-token suffix), then the test holes answered
# with transformers at the 160- and 320-token suffix. Every phase is one call of the device tool,
# back to back so that the machine stays warm (it is given back after ~30 s idle):
#
#   bash models/device/train_round3b.sh prep        # carried: .device/data3 .whl .device/init; data build starts
#   bash models/device/gpu_serving.sh carry .device/p05/cNN   # x10, the 0.5B GGUF
#   bash models/device/train_round3b.sh train05     # carried: .device/prompts3b; join + sha256, save-base,
#                                                   # then in the background: 0.5B training, its answers,
#                                                   # and (once train15 has joined its base) the 1.5B's
#   bash models/device/gpu_serving.sh carry .device/p15b/mNN  # x21, the 1.5B GGUF (while the 0.5B trains)
#   bash models/device/train_round3b.sh base15      # join + sha256, save-base; the background run goes on
#   bash models/device/train_round3b.sh wait        # follows the log to the end; results to $OUT
# and, with the CUDA build of llama-cpp-python started early (gpu_serving.sh carry/build, the sdist's
# two pieces, while the GPU trains), the 1.5B's serving latency:
#   bash models/device/train_round3b.sh measure15   # carried: .whl .device/docs
#
# Pieces and inputs are made here with:
#   split -n 10 -d <0.5B GGUF> .device/p05/c ;  split -n 21 -d <1.5B GGUF> .device/p15b/m
#   python -m models.train adapter-dir --gguf server/asm_lsp/data/asm-lora.gguf --out .device/init/round2
#   cp -r models/work/run3/adapter .device/init/round3_15     # the 1.5B round three, PEFT fp16
#   python -m models.evaluate export-prompts ... [--suffix-budget 320] --out .device/prompts3b/...
# The machine goes back ~30 s after a call ends, whatever runs in the background: keep the calls
# back to back (a follow call of up to ~9 minutes holds it), and keep each call under its 600 s
# (train05 spends ~55 s on save-base before it follows: FOLLOW_S <= 520). Stop a background run
# with a pattern that does not match the calling command line itself (pkill -f matches its own shell).
# The tree that travels must stay small: the two shipped adapters (36 MB) are moved out of the
# working tree for the carries (the init adapters travel in .device/init instead).
# Environment: TRAIN05_S, TRAIN15_S (seconds of training each; 0 skips that model), SETS05, SETS15
# (extra --set words), PRESET (gpu3; tiny for a CPU dry run), FOLLOW_S, GEN_LIMIT; the names of the
# answers and adapters NAME05 (r3-05), NAME15 (r3b-15); INIT05 (round2: the 0.5B's init adapter under
# .device/init); GEN05, GEN15: adapters under .device/init whose answers to give too, at the 160-token
# suffix, as gen-<name> (GEN05 unset: the 0.5B's init adapter at both budgets, as gen-r2-05).
# The third lease (round 3c) ran the contrastive A/B and the 1.5B on from round three:
#   NAME05=r3c-05-nocon GEN05=round3_05 SETS05="--set contrastive_weight=0 --set max_steps=378"
#   TRAIN05_S=600 TRAIN15_S=... NAME15=r3c-15 GEN15=round3_15 (models/TRAINING.md has the commands as run).
set -u
phase=$1; shift
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
SHA05=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
SHA15=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
LOG=/tmp/r3b.log
source "$(dirname "$0")/lib.sh"  # follow, join_base
case "$phase" in
prep)
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl 2>/dev/null
  mkdir -p /tmp/r3b /tmp/out3b && cp -r .device/data3 .device/init /tmp/r3b/ && touch $LOG
  nvidia-smi --query-gpu=name,memory.used --format=csv,noheader; nproc
  cat > /tmp/r3b/data.sh <<EOF
export PYTHONPATH=/tmp/site:$PWD/server:$PWD TOKENIZERS_PARALLELISM=false
cd $PWD
start=\$(date +%s)
python3 -m models.dataset build --corpus /tmp/r3b/data3 --tokenizer /tmp/r3b/data3 --out /tmp/data3b --jobs 16 --preset ${PRESET:-gpu3} 2>&1 | tail -14 >> $LOG
echo "data built in \$(( \$(date +%s) - start )) s" >> $LOG
touch /tmp/r3b/data.done
EOF
  setsid nohup bash /tmp/r3b/data.sh > /dev/null 2>&1 < /dev/null &
  sleep 3; echo "data build started" ;;
train05)
  cp .device/prompts3b/*.jsonl.gz /tmp/r3b/ || exit 1
  [ -d .device/init ] && cp -r .device/init /tmp/r3b/  # init adapters carried with this call too (merged in)
  [ "${TRAIN05_S:-420}" != 0 ] && join_base c /tmp/base05.gguf $SHA05 /tmp/base05-hf  # TRAIN05_S=0: the 1.5B alone, no 0.5B pieces
  cat > /tmp/r3b/train.sh <<EOF
export PYTHONPATH=/tmp/site:$PWD/server:$PWD TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
cd $PWD
while [ ! -f /tmp/r3b/data.done ]; do sleep 2; done
gen() {  # base-hf adapter-dir name [short]: answers at both suffix budgets (short: at 160 only)
  for s in "" -s320; do
    [ "\${4:-}" = short ] && [ -n "\$s" ] && continue
    python3 -m models.hf_generate --base \$1 --tokenizer /tmp/r3b/data3 --adapter \$2 --batch 64 \\
        --prompts /tmp/r3b/prompts-test-h24b8\$s.jsonl.gz --out /tmp/out3b/gen-\$3\$s.jsonl ${GEN_LIMIT:+--limit $GEN_LIMIT} 2>&1 | tail -1 >> $LOG
  done
}
fp16() {  # run-dir name: the adapter cast to fp16 under /tmp/a16/name, with the run's report and log
  python3 -m models.train fp16-adapter --run \$1 --out /tmp/a16/\$2 >> $LOG 2>&1
}
if [ "${TRAIN05_S:-420}" != 0 ]; then
  t1=\$(date +%s)
  python3 -m models.train run --data /tmp/data3b --base /tmp/base05-hf --out /tmp/run05 --preset ${PRESET:-gpu3} \\
      --init-adapter /tmp/r3b/init/${INIT05:-round2} --time-budget-s ${TRAIN05_S:-420} --fit-budget ${SETS05:-} 2>&1 \\
      | grep -E '^\{|^model ready|^done|^paused|Error|error' | cut -c1-400 >> $LOG
  echo "0.5B training ended after \$(( \$(date +%s) - t1 )) s" >> $LOG
  gen /tmp/base05-hf /tmp/run05/adapter ${NAME05:-r3-05}
  [ -z "${GEN05+set}" ] && gen /tmp/base05-hf /tmp/r3b/init/${INIT05:-round2} r2-05
  for a in ${GEN05:-}; do gen /tmp/base05-hf /tmp/r3b/init/\$a \$a short; done
  fp16 /tmp/run05 ${NAME05:-r3-05}
fi
while [ ! -f /tmp/base15-hf/model.safetensors ] || [ ! -f /tmp/r3b/base15.done ]; do sleep 2; done
if [ "${TRAIN15_S:-400}" != 0 ]; then
  t2=\$(date +%s)
  python3 -m models.train run --data /tmp/data3b --base /tmp/base15-hf --out /tmp/run15 --preset gpu15 \\
      --init-adapter /tmp/r3b/init/round3_15 --time-budget-s ${TRAIN15_S:-400} --fit-budget \\
      --set lr=1e-4 --set max_steps=2000 --set warmup_steps=10 --set seed=4321 ${SETS15:-} 2>&1 \\
      | grep -E '^\{|^model ready|^done|^paused|Error|error' | cut -c1-400 >> $LOG
  echo "1.5B training ended after \$(( \$(date +%s) - t2 )) s" >> $LOG
  gen /tmp/base15-hf /tmp/run15/adapter ${NAME15:-r3b-15}
  for a in ${GEN15:-}; do gen /tmp/base15-hf /tmp/r3b/init/\$a \$a short; done
  fp16 /tmp/run15 ${NAME15:-r3b-15}
fi
cp /tmp/data3b/report.json /tmp/out3b/data_report.json
python3 -c "import numpy as np; np.save('/tmp/out3b/valid_fim.u32.npy', np.load('/tmp/data3b/valid_fim.u32.npy')[:64])"
tar cf /tmp/a3b.tar -C /tmp a16 out3b && echo "packed: \$(ls /tmp/a16)" >> $LOG
touch /tmp/r3b/train.done
EOF
  setsid nohup bash /tmp/r3b/train.sh > /tmp/r3b/train.out 2>&1 < /dev/null &
  follow /tmp/r3b/train.done ${FOLLOW_S:-20} ;;
base15)
  join_base m /tmp/base15.gguf $SHA15 /tmp/base15-hf
  touch /tmp/r3b/base15.done
  follow /tmp/r3b/train.done ${FOLLOW_S:-20} ;;
wait)
  follow /tmp/r3b/train.done ${FOLLOW_S:-560}
  tail -5 /tmp/r3b/train.out
  if [ -f /tmp/r3b/train.done ]; then
    split -b 15M -d /tmp/a3b.tar $OUT/r3b.tar.
    cp $LOG $OUT/
    ls -la $OUT
  fi ;;
measure15)  # after gpu_serving.sh's build phase: the 1.5B's serving latency on the GPU (typing replay; the
  # replay resolves the default 0.5B too, so /tmp/base05.gguf must be there: carry .device/p05 first);
  # carried: .whl .device/docs; the tree holds the shipped 1.5B adapter, which the server merges on first use
  while [ ! -f /tmp/build.done ]; do sleep 5; done
  cat /tmp/build.done; tail -2 /tmp/build.log
  M=~/.cache/asm-lsp/models && mkdir -p $M
  cp /tmp/base15.gguf $M/qwen2.5-coder-1.5b-instruct-q4_k_m-cc324af070c2.gguf
  [ -f /tmp/base05.gguf ] && cp /tmp/base05.gguf $M/qwen2.5-coder-0.5b-instruct-q4_k_m-1d9614638d18.gguf
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/llama-site:/tmp/site:$PWD/server:$PWD
  t0=$(date +%s); python3 -m asm_lsp model fetch --model-size 1.5b 2>&1 | tail -3
  echo "1.5B assembled and merged in $(( $(date +%s) - t0 )) s"
  python3 -m asm_lsp model status --model-size 1.5b 2>&1 | tail -8
  nproc; uptime
  python3 -m bench.typing_replay --docs gcc-O2,clang-O0 --settings size-1.5b --memory-settings "" --typed-lines 24 \
      --open-settings size-1.5b --open-holes 8 --keep-docs .device/docs --out $OUT/typing_replay_gpu_15b 2>&1 | tail -40
  uptime ;;
*) echo "unknown phase $phase"; exit 2 ;;
esac
