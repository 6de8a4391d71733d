#!/usr/bin/env bash
# Compiles every kernel source into one fatbin (sm_90a machine code for Hopper plus compute_90
# PTX that newer drivers can compile), and prints the kernel contract (contract_table.cu) next
# to it, for the Java side to check its structs and constants against.
#
# Without nvcc the build warns and goes on (the GPU backend then reports that its kernels were
# not built), unless EP4J_REQUIRE_NVCC=1 (CI sets it): then a missing nvcc fails the build. A
# kernel that does not compile always fails the build.
#
# Usage: nvcc-fatbin.sh SRC_DIR OUT_FATBIN [STAMP] [TABLE_SOURCE]
set -euo pipefail
src_dir=$1 out=$2 stamp=${3:-$2.inputs}
table_src=${4:-$(dirname "$0")/contract_table.cu}
contract="$(dirname "$out")/contract.txt"
nvcc=${NVCC:-$(command -v nvcc || true)}
[ -n "$nvcc" ] || for c in /usr/local/cuda/bin/nvcc /usr/local/bin/nvcc; do [ -x "$c" ] && nvcc=$c && break; done
if [ -z "$nvcc" ]; then
  if [ "${EP4J_REQUIRE_NVCC:-0}" = "1" ]; then
    echo "[ERROR] ep4j-cuda: nvcc not found and EP4J_REQUIRE_NVCC=1: the CUDA kernels must be built here." >&2
    echo "[ERROR] Install the CUDA toolkit (nvcc 12.4 or newer), put it on PATH or set NVCC=/path/to/nvcc." >&2
    exit 1
  fi
  echo "[WARNING] ep4j-cuda: nvcc not found; the CUDA kernels are NOT built and the GPU backend will be unavailable." >&2
  rm -f "$out" "$contract" "$stamp"
  exit 0
fi
mkdir -p "$(dirname "$out")"
flags=(-std=c++17 -O3 -lineinfo -I"$src_dir"
       -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_90,code=compute_90)
# shellcheck disable=SC2206
extra=(${NVCC_FLAGS:-})
shopt -s nullglob
# Rebuild when a source, this script, the table program, the flags or the compiler change.
inputs=$( { cat "$src_dir"/*.cu "$src_dir"/*.cuh "$0" "$table_src"; printf '%s\n' "${flags[@]}" "${extra[@]}";
            "$nvcc" --version; } | sha256sum | cut -c1-64)
if [ -f "$out" ] && [ -f "$contract" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
  exit 0
fi
echo "[INFO] ep4j-cuda: $nvcc -> $out"
rm -f "$stamp"
"$nvcc" -fatbin "${flags[@]}" "${extra[@]}" -o "$out" "$src_dir"/ep4j_kernels.cu
# The contract table: host code only, run here (no GPU needed).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nvcc" -std=c++17 -I"$src_dir" -o "$tmp/contract_table" "$table_src"
"$tmp/contract_table" > "$tmp/contract.txt"
mv "$tmp/contract.txt" "$contract"
echo "$inputs" > "$stamp"
