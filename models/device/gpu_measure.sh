#!/bin/bash
# The measurements of models/device/gpu_serving.sh's last phase, on the GPU machine, with the
# CUDA build of llama-cpp-python on PYTHONPATH. Carried: .device/docs (the typing replay's compiled
# documents) and models/work/eval/cases (the evaluation holes' compiled cases).
set -u
uptime
# llama.cpp's own rates and merged weights vs the runtime adapter, every layer on the GPU
[ -z "${SKIP_MERGED:-}" ] && python3 -m bench.merged_weights --holes 2 --out $OUT/merged_weights_gpu 2>&1 | tail -25
# The typing replay and open-and-ask, default settings (model.gpuLayers auto = every layer)
python3 -m bench.typing_replay --docs gcc-O2,clang-O0 --settings default --memory-settings "" --typed-lines 24 \
    --open-settings default --open-holes 8 --keep-docs .device/docs --out $OUT/typing_replay_gpu 2>&1 | tail -40
uptime
