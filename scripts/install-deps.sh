#!/usr/bin/env bash
# Installs everything kmoe needs on Debian bookworm, idempotently.
#  1. Debian packages (toolchain, HDF5, toml++, GoogleTest, Benchmark, OpenBLAS-OpenMP,
#     SentencePiece, Python post-processing stack, nodejs/npm).
#  2. Kokkos + Kokkos Kernels: an existing Kokkos >= 3.4 with OpenMP or CUDA is used as is
#     (Kokkos_ROOT / CMAKE_PREFIX_PATH / spack); otherwise Kokkos 3.4.01 and Kokkos Kernels
#     are built from Debian's trilinos *source* package into $KMOE_DEPS_PREFIX.
# A second run finds everything in place and returns in seconds.
#
# KMOE_KOKKOS_CUDA=1 builds the CUDA variant instead (Serial + CUDA, sm_80 code that newer GPUs
# JIT from PTX, cuBLAS TPL) into $HOME/.local/kmoe-deps-cuda, patching Kokkos 3.4 for CUDA 13;
# for GPU machines without spack. Needs nvcc on PATH (/usr/local/cuda/bin is added).
set -euo pipefail

KMOE_KOKKOS_CUDA="${KMOE_KOKKOS_CUDA:-0}"
if [ "$KMOE_KOKKOS_CUDA" = 1 ]; then
  KMOE_DEPS_PREFIX="${KMOE_DEPS_PREFIX:-$HOME/.local/kmoe-deps-cuda}"
  export PATH="/usr/local/cuda/bin:$PATH"
else
  KMOE_DEPS_PREFIX="${KMOE_DEPS_PREFIX:-$HOME/.local/kmoe-deps}"
fi
step() { printf '[install-deps] %s\n' "$*"; }
die()  { printf '[install-deps] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: install packages by hand"
  SUDO="sudo"
fi

APT_PACKAGES=(
  cmake g++ make ccache pkg-config git ca-certificates xz-utils dpkg-dev
  libhdf5-dev libtomlplusplus-dev libcli11-dev libgtest-dev libbenchmark-dev
  libopenblas0-openmp libopenblas-openmp-dev libopenblas-dev
  libsentencepiece-dev sentencepiece
  libopenmpi-dev openmpi-bin
  python3 python3-h5py python3-numpy python3-pandas python3-matplotlib python3-scipy python3-statsmodels python3-pytest python3-venv python3-pip python3-setuptools
  nodejs npm
)

missing_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
    if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

install_packages() {
  local missing
  missing=$(missing_packages | tr '\n' ' ')
  if [ -z "${missing// /}" ]; then
    step "Debian packages: all present"
    return
  fi
  step "Debian packages: installing $missing"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || die "apt-get update failed"
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null \
    || die "apt-get install failed for: $missing"
  # Prefer the OpenMP OpenBLAS: the pthread one oversubscribes cores under Kokkos OpenMP.
  local lib
  lib=$(ls /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 2>/dev/null || true)
  if [ -n "$lib" ]; then
    $SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu "$lib" >/dev/null 2>&1 || true
  fi
}

# The Debian archive this machine's apt already uses (deb.debian.org when none is found).
debian_mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -E '^(URIs:|deb )' | grep -oE 'https?://[^ ]+' | grep -v -- '-security' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# True when a Kokkos >= 3.4 with OpenMP or CUDA and Kokkos Kernels are already findable.
existing_kokkos_usable() {
  local probe
  probe=$(mktemp -d)
  cat >"$probe/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(probe CXX)
find_package(Kokkos 3.4 REQUIRED)
find_package(KokkosKernels REQUIRED)
kokkos_check(DEVICES OpenMP RETURN_VALUE has_omp)
kokkos_check(DEVICES Cuda RETURN_VALUE has_cuda)
if(NOT has_omp AND NOT has_cuda)
  message(FATAL_ERROR "Kokkos has neither OpenMP nor CUDA")
endif()
if(WANT_CUDA AND NOT has_cuda)
  message(FATAL_ERROR "Kokkos has no CUDA backend")
endif()
CM
  local ok=1
  local compiler=()
  [ -x "$KMOE_DEPS_PREFIX/bin/nvcc_wrapper" ] && [ "$KMOE_KOKKOS_CUDA" = 1 ] \
    && compiler=(-DCMAKE_CXX_COMPILER="$KMOE_DEPS_PREFIX/bin/nvcc_wrapper" -DCMAKE_CXX_FLAGS=-arch=sm_80)
  cmake -S "$probe" -B "$probe/build" -DCMAKE_PREFIX_PATH="$KMOE_DEPS_PREFIX;${CMAKE_PREFIX_PATH:-}" \
        -DWANT_CUDA="$KMOE_KOKKOS_CUDA" "${compiler[@]}" >/dev/null 2>&1 || ok=0
  rm -rf "$probe"
  [ "$ok" = 1 ]
}

# Kokkos 3.4 predates CUDA 13: half_t casts, cudaMemPrefetchAsync's new signature and the
# 3-argument cudaGraphInstantiate.
patch_kokkos_for_cuda13() {
  /usr/bin/python3 - "$1" <<'PY' || die "patching Kokkos for CUDA 13 failed"
import re, sys
src = sys.argv[1]
def edit(path, fn):
    with open(path) as f:
        text = f.read()
    new = fn(text)
    if new == text:
        raise SystemExit(f"{path}: patch did not apply")
    with open(path, "w") as f:
        f.write(new)
edit(f"{src}/Cuda/Kokkos_Cuda_Half.hpp", lambda t: re.sub(
    r"return (__half2\w+)\(val\);",
    lambda m: ("return static_cast<double>(__half2float(static_cast<__half>(val)));" if m.group(1) == "__half2double"
               else f"return {m.group(1)}(static_cast<__half>(val));"), t))
edit(f"{src}/Cuda/Kokkos_CudaSpace.cpp", lambda t: t.replace(
    "CUDA_SAFE_CALL(cudaMemPrefetchAsync(ptr, bytes, space.cuda_device(),",
    "cudaMemLocation location{};\n    location.type = cudaMemLocationTypeDevice;\n"
    "    location.id = space.cuda_device();\n    CUDA_SAFE_CALL(cudaMemPrefetchAsync(ptr, bytes, location, 0,"))
edit(f"{src}/Cuda/Kokkos_Cuda_Graph_Impl.hpp", lambda t: re.sub(
    r"cudaGraphInstantiate\(&m_graph_exec, m_graph, &error_node,\s*error_log, error_log_size\)",
    lambda m: "cudaGraphInstantiate(&m_graph_exec, m_graph, 0)", t))
# 3.4 refuses a GPU of a newer major version than the code (an H100 running sm_80 code from PTX).
edit(f"{src}/Cuda/Kokkos_Cuda_Instance.cpp", lambda t: t.replace(
    "if (compiled_major != cudaProp.major || compiled_minor > cudaProp.minor) {",
    "if (compiled_major * 10 + compiled_minor > cudaProp.major * 10 + cudaProp.minor) {"))
PY
}

build_kokkos_from_debian_source() {
  local work jobs
  work=$(mktemp -d)
  jobs=$(nproc)
  step "Kokkos: building 3.4.01 + Kokkos Kernels from Debian's trilinos source into $KMOE_DEPS_PREFIX"
  mkdir -p "$work/apt/lists/partial"
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg signed=""
  [ -f "$keyring" ] && signed="[signed-by=$keyring] "
  echo "deb-src ${signed}$(debian_mirror) bookworm main" >"$work/sources.list"
  local aptopts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
                 -o "Dir::State::Lists=$work/apt/lists" -o "APT::Sandbox::User=root")
  step "Kokkos: apt-get source --download-only trilinos (~166 MB)"
  $SUDO apt-get "${aptopts[@]}" update -qq || die "apt-get update (deb-src) failed"
  (cd "$work" && $SUDO apt-get "${aptopts[@]}" source --download-only trilinos >/dev/null) \
    || die "apt-get source trilinos failed"
  local tarball
  tarball=$(ls "$work"/trilinos_*.orig.tar.* | head -n1)
  [ -f "$tarball" ] || die "trilinos orig tarball not found in $work"
  step "Kokkos: extracting packages/kokkos and packages/kokkos-kernels"
  mkdir -p "$work/src"
  tar -xf "$tarball" -C "$work/src" --strip-components=1 --wildcards \
      '*/packages/kokkos/*' '*/packages/kokkos-kernels/*' || die "extracting trilinos failed"
  local backend=(-DKokkos_ENABLE_OPENMP=ON) kk_backend=() compiler=() label="OpenMP"
  if [ "$KMOE_KOKKOS_CUDA" = 1 ]; then
    command -v nvcc >/dev/null || die "KMOE_KOKKOS_CUDA=1 needs nvcc"
    step "Kokkos: patching Kokkos 3.4 for CUDA 13"
    patch_kokkos_for_cuda13 "$work/src/packages/kokkos/core/src"
    backend=(-DKokkos_ENABLE_CUDA=ON -DKokkos_ENABLE_CUDA_LAMBDA=ON -DKokkos_ARCH_AMPERE80=ON)
    kk_backend=(-DKokkosKernels_ENABLE_TPL_CUBLAS=ON)
    compiler=(-DCMAKE_CXX_FLAGS=-arch=sm_80)
    label="CUDA sm_80"
  fi
  step "Kokkos: configure + build + install Kokkos (Serial, $label, C++17, Release)"
  local kokkos_compiler=()
  [ "$KMOE_KOKKOS_CUDA" = 1 ] && kokkos_compiler=(-DCMAKE_CXX_COMPILER="$work/src/packages/kokkos/bin/nvcc_wrapper")
  cmake -S "$work/src/packages/kokkos" -B "$work/build-kokkos" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$KMOE_DEPS_PREFIX" -DCMAKE_CXX_STANDARD=17 \
        -DKokkos_ENABLE_SERIAL=ON "${backend[@]}" "${kokkos_compiler[@]}" "${compiler[@]}" -DBUILD_SHARED_LIBS=OFF \
        -DCMAKE_POSITION_INDEPENDENT_CODE=ON >"$work/kokkos-configure.log" 2>&1 \
    || { tail -n 30 "$work/kokkos-configure.log"; die "Kokkos configure failed"; }
  cmake --build "$work/build-kokkos" -j"$jobs" >"$work/kokkos-build.log" 2>&1 \
    || { tail -n 30 "$work/kokkos-build.log"; die "Kokkos build failed"; }
  cmake --install "$work/build-kokkos" >/dev/null || die "Kokkos install failed"
  step "Kokkos: configure + build + install Kokkos Kernels (BLAS TPL = OpenBLAS${kk_backend:+ + cuBLAS}, ETI off)"
  [ "$KMOE_KOKKOS_CUDA" = 1 ] && compiler+=(-DCMAKE_CXX_COMPILER="$KMOE_DEPS_PREFIX/bin/nvcc_wrapper")
  cmake -S "$work/src/packages/kokkos-kernels" -B "$work/build-kk" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$KMOE_DEPS_PREFIX" -DCMAKE_PREFIX_PATH="$KMOE_DEPS_PREFIX" \
        "${kk_backend[@]}" "${compiler[@]}" \
        -DCMAKE_CXX_STANDARD=17 -DKokkosKernels_ENABLE_TPL_BLAS=ON \
        -DKokkosKernels_ADD_DEFAULT_ETI=OFF -DKokkosKernels_INST_FLOAT=OFF \
        -DKokkosKernels_INST_DOUBLE=OFF -DKokkosKernels_ENABLE_TESTS=OFF \
        -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
        >"$work/kk-configure.log" 2>&1 \
    || { tail -n 30 "$work/kk-configure.log"; die "Kokkos Kernels configure failed"; }
  cmake --build "$work/build-kk" -j"$jobs" >"$work/kk-build.log" 2>&1 \
    || { tail -n 30 "$work/kk-build.log"; die "Kokkos Kernels build failed"; }
  cmake --install "$work/build-kk" >/dev/null || die "Kokkos Kernels install failed"
  rm -rf "$work"
  step "Kokkos: installed into $KMOE_DEPS_PREFIX"
}

install_packages
if existing_kokkos_usable; then
  step "Kokkos: found a usable Kokkos >= 3.4 and Kokkos Kernels"
else
  build_kokkos_from_debian_source
  existing_kokkos_usable || die "Kokkos built but CMake still cannot find it in $KMOE_DEPS_PREFIX"
fi
step "done (Kokkos prefix: $KMOE_DEPS_PREFIX)"
