#!/usr/bin/env bash
# Compiles every kernel source into one fatbin: sm_90a machine code for Hopper plus compute_90
# PTX that newer drivers can compile. Without nvcc the build goes on (the GPU backend then
# reports that its kernels were not built); a kernel that does not compile fails the build.
set -euo pipefail
src_dir=$1 out=$2 stamp=${3:-$2.inputs}
nvcc=${NVCC:-$(command -v nvcc || true)}
[ -n "$nvcc" ] || for c in /usr/local/cuda/bin/nvcc /usr/local/bin/nvcc; do [ -x "$c" ] && nvcc=$c && break; done
if [ -z "$nvcc" ]; then
  echo "[WARNING] ep4j-cuda: nvcc not found; the CUDA kernels are NOT built and the GPU backend will be unavailable." >&2
  exit 0
fi
mkdir -p "$(dirname "$out")"
shopt -s nullglob
inputs=$(cat "$src_dir"/*.cu "$src_dir"/*.cuh | sha256sum | cut -c1-64)
if [ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
  exit 0
fi
echo "[INFO] ep4j-cuda: $nvcc -> $out"
"$nvcc" -fatbin -std=c++17 -O3 -lineinfo -I"$src_dir" \
  -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_90,code=compute_90 \
  ${NVCC_FLAGS:-} -o "$out" "$src_dir"/ep4j_kernels.cu
echo "$inputs" > "$stamp"
