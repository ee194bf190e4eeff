#!/usr/bin/env bash
# Installs everything kmoe needs on Debian bookworm, idempotently.
#  1. Debian packages (toolchain, HDF5, toml++, GoogleTest, Benchmark, OpenBLAS-OpenMP,
#     SentencePiece, Python post-processing stack, nodejs/npm).
#  2. Kokkos + Kokkos Kernels: an existing Kokkos >= 3.4 with OpenMP or CUDA is used as is
#     (Kokkos_ROOT / CMAKE_PREFIX_PATH / spack); otherwise Kokkos 3.4.01 and Kokkos Kernels
#     are built from Debian's trilinos *source* package into $KMOE_DEPS_PREFIX.
# A second run finds everything in place and returns in seconds.
set -euo pipefail

KMOE_DEPS_PREFIX="${KMOE_DEPS_PREFIX:-$HOME/.local/kmoe-deps}"
step() { printf '[install-deps] %s\n' "$*"; }
die()  { printf '[install-deps] ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: install packages by hand"
  SUDO="sudo"
fi

APT_PACKAGES=(
  cmake g++ make ccache pkg-config git ca-certificates xz-utils dpkg-dev
  libhdf5-dev libtomlplusplus-dev libgtest-dev libbenchmark-dev
  libopenblas0-openmp libopenblas-openmp-dev libopenblas-dev
  libsentencepiece-dev sentencepiece
  python3 python3-h5py python3-numpy python3-pandas python3-matplotlib python3-scipy python3-pytest
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
CM
  local ok=1
  cmake -S "$probe" -B "$probe/build" -DCMAKE_PREFIX_PATH="$KMOE_DEPS_PREFIX;${CMAKE_PREFIX_PATH:-}" \
        >/dev/null 2>&1 || ok=0
  rm -rf "$probe"
  [ "$ok" = 1 ]
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
  step "Kokkos: configure + build + install Kokkos (Serial, OpenMP, C++17, Release)"
  cmake -S "$work/src/packages/kokkos" -B "$work/build-kokkos" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$KMOE_DEPS_PREFIX" -DCMAKE_CXX_STANDARD=17 \
        -DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_OPENMP=ON -DBUILD_SHARED_LIBS=OFF \
        -DCMAKE_POSITION_INDEPENDENT_CODE=ON >"$work/kokkos-configure.log" 2>&1 \
    || { tail -n 30 "$work/kokkos-configure.log"; die "Kokkos configure failed"; }
  cmake --build "$work/build-kokkos" -j"$jobs" >"$work/kokkos-build.log" 2>&1 \
    || { tail -n 30 "$work/kokkos-build.log"; die "Kokkos build failed"; }
  cmake --install "$work/build-kokkos" >/dev/null || die "Kokkos install failed"
  step "Kokkos: configure + build + install Kokkos Kernels (BLAS TPL = OpenBLAS, ETI off)"
  cmake -S "$work/src/packages/kokkos-kernels" -B "$work/build-kk" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$KMOE_DEPS_PREFIX" -DCMAKE_PREFIX_PATH="$KMOE_DEPS_PREFIX" \
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
