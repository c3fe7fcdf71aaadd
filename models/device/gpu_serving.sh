#!/bin/bash
# Serving on the GPU machine (one H200): llama-cpp-python built with CUDA, then the typing replay,
# the cold first suggestion and llama.cpp's own rates with the model on the GPU (issue 11 item 4).
# Every phase is one call of the device tool, back to back so the machine stays warm:
#
#   bash models/device/gpu_serving.sh carry .device/sdist/s00          # carried: the piece
#   bash models/device/gpu_serving.sh build .device/sdist/s01          # joins the sdist, builds in the background
#   bash models/device/gpu_serving.sh carry .device/p/c00 ... c13      # one piece a call (36 MiB each)
#   bash models/device/gpu_serving.sh measure                           # carried: .whl .device/docs
#
# Pieces are made here with:
#   pip download --no-binary :all: --no-deps llama-cpp-python==0.3.36 -d .device/sdist
#   split -n 2 -d .device/sdist/llama_cpp_python-0.3.36.tar.gz .device/sdist/s
#   split -b 36m -d ~/.cache/asm-lsp/models/qwen2.5-coder-0.5b-instruct-q4_k_m-1d9614638d18.gguf .device/p/c
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 -d .whl diskcache pygls lsprotocol cattrs attrs
#   python3 -m bench.typing_replay --keep-docs .device/docs --quick ...   (the compiled documents:
#       the GPU machine has no AArch64 cross compiler)
# The build uses the system compilers: the image's /opt/gcc wrapper builds a library that segfaults
# at model load.
set -u
phase=$1; shift
export PYTHONUNBUFFERED=1
case "$phase" in
carry)
  mkdir -p /tmp/store && cp "$@" /tmp/store/ && ls /tmp/store | tr '\n' ' '; echo; df -h /tmp | tail -1 ;;
build)
  mkdir -p /tmp/store && cp "$@" /tmp/store/
  mkdir -p /tmp/sdist && cat /tmp/store/s0* > /tmp/sdist/llama.tar.gz && tar xzf /tmp/sdist/llama.tar.gz -C /tmp/sdist || exit 1
  nvidia-smi --query-gpu=name,memory.used,driver_version --format=csv,noheader
  nvcc --version | tail -2
  cat > /tmp/build.sh <<'EOF'
export CC=/usr/bin/gcc CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++ CMAKE_BUILD_PARALLEL_LEVEL=16
export CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_HOST_COMPILER=/usr/bin/g++"
start=$(date +%s)
python3 -m pip install --no-build-isolation --no-deps --no-index --target /tmp/llama-site /tmp/sdist/llama_cpp_python-0.3.36 > /tmp/build.log 2>&1
echo "rc=$? seconds=$(( $(date +%s) - start ))" > /tmp/build.done
EOF
  setsid nohup bash /tmp/build.sh > /dev/null 2>&1 < /dev/null &
  sleep 5; echo "build started" ;;
measure)
  cat /tmp/store/c* > /tmp/base.gguf
  echo "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32  /tmp/base.gguf" | sha256sum -c || exit 1
  mkdir -p ~/.cache/asm-lsp/models && mv /tmp/base.gguf ~/.cache/asm-lsp/models/qwen2.5-coder-0.5b-instruct-q4_k_m-1d9614638d18.gguf
  while [ ! -f /tmp/build.done ]; do sleep 5; done
  cat /tmp/build.done; tail -3 /tmp/build.log; cp /tmp/build.log $OUT/build.log
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/llama-site:/tmp/site:$PWD/server:$PWD
  python3 -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__, 'gpu offload', llama_cpp.llama_supports_gpu_offload())"
  python3 -m asm_lsp model status 2>&1 | tail -8
  nproc; uptime
  SKIP_MERGED=${SKIP_MERGED:-} bash models/device/gpu_measure.sh ;;
*) echo "unknown phase $phase"; exit 2 ;;
esac
