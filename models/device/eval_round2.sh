#!/bin/bash
# Round two, call 5 on the GPU machine (after train_round2.sh phases 1-3 left /tmp/base-hf and
# /tmp/run/adapter there): large-scale FIM generation and retrieval embeddings with transformers.
# Carried: .whl (gguf wheel), .device/tok (tokenizer files of the data export),
# models/work/eval/prompts-test-h24b8.jsonl.gz, bench/work/retrieval/texts.jsonl.gz.
# Embeddings come back as int8 (x127, rounded) to fit the 64 MiB return limit; bench side converts back.
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false PYTHONPATH=/tmp/site:$PWD/server:$PWD
P=models/work/eval/prompts-test-h24b8.jsonl.gz; T=bench/work/retrieval/texts.jsonl.gz; A=/tmp/run/adapter
python3 -m models.hf_generate --base /tmp/base-hf --tokenizer .device/tok --prompts $P --out $OUT/gen-base.jsonl --batch 64
python3 -m models.hf_generate --base /tmp/base-hf --tokenizer .device/tok --adapter $A --prompts $P --out $OUT/gen-ours.jsonl --batch 64
for s in "base-mean mean" "ours-mean mean" "base-last last"; do
  set -- $s; AD=""; [ $1 = ours-mean ] && AD="--adapter $A"
  python3 -m models.hf_embed --base /tmp/base-hf --tokenizer .device/tok --texts $T --pooling $2 $AD --out /tmp/$1.npz
  python3 -c "
import numpy as np; d=np.load('/tmp/$1.npz'); v=d['vectors'].astype(np.float32)
np.savez('$OUT/$1.npz', keys=d['keys'], vectors_i8=np.clip(np.round(v*127),-127,127).astype(np.int8), meta=d['meta'])"
done
# The adapter as fp16 safetensors (the GGUF is f16 anyway; the fp32 one is 35 MB, over one 16 MiB file x2)
python3 - <<'PY'
import os, shutil, torch, safetensors.torch as st
os.makedirs('/tmp/a16/adapter', exist_ok=True)
t = st.load_file('/tmp/run/adapter/adapter_model.safetensors')
st.save_file({k: v.to(torch.float16) for k, v in t.items()}, '/tmp/a16/adapter/adapter_model.safetensors')
for f in os.listdir('/tmp/run/adapter'):
    if not f.endswith('.safetensors'): shutil.copy('/tmp/run/adapter/' + f, '/tmp/a16/adapter/' + f)
PY
tar cf /tmp/a.tar -C /tmp/a16 adapter -C /tmp/run train_report.json log.jsonl -C /tmp/pack . && split -b 15M -d /tmp/a.tar $OUT/adapter16.tar.
