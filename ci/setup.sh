#!/usr/bin/env bash
# Set up vkgrad on a fresh Debian machine: system packages for Vulkan (lavapipe,
# glslang, validation layers) and the CPU backend (gcc, oneDNN), a virtualenv in
# .venv, Kompute (kp) built offline from its PyPI sdist, and vkgrad itself
# (shaders and the CPU backend's C loops compiled at install).
#   VKGRAD_CPU_ONLY=1 bash ci/setup.sh   skips the Vulkan parts.
#   VKGRAD_CPU_SGEMM=0 / VKGRAD_CPU_NATIVE=0 at run time: the CPU backend's NumPy paths.
#   VKGRAD_EXTRAS="dev,mpi"             extras to install (default: dev).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
VENV=${VKGRAD_VENV:-$ROOT/.venv}

log() { printf '\n== %s\n' "$*"; }

# the CPU backend's: gcc for its fused C loops, oneDNN (libdnnl2) for its float32
# products (both optional at run time: NumPy's path without them)
APT_PKGS="gcc libdnnl2"
if [ -z "${VKGRAD_CPU_ONLY:-}" ]; then
  APT_PKGS="$APT_PKGS libvulkan-dev mesa-vulkan-drivers glslang-tools spirv-tools libfmt-dev cmake g++ vulkan-tools vulkan-validationlayers"
fi
if command -v dpkg >/dev/null; then
  missing=$(for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ]; then
    log "installing Debian packages: $missing"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  $PY -m venv "$VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install -q --upgrade pip >/dev/null
"$VPY" -m pip install -q numpy pytest setuptools wheel

if [ -z "${VKGRAD_CPU_ONLY:-}" ]; then
  if ! "$VPY" -c "import kp" 2>/dev/null; then
    log "building Kompute (kp 0.9.0) offline from its sdist (about 90 s the first time)"
    "$VPY" -m pip install -q "pybind11>=2.11"
    export PYBIND11_CMAKE_DIR=$("$VPY" -c 'import pybind11; print(pybind11.get_cmake_dir())')
    export CMAKE_TOOLCHAIN_FILE="$ROOT/ci/kp-toolchain.cmake" KP_PYTHON="$VPY"
    export CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
    # --no-deps: kp declares numpy<2, but its binding runs under numpy 2, whose
    # OpenBLAS was 8x faster for f32 matmul on this machine kind than 1.26's
    "$VPY" -m pip install -q --no-build-isolation --no-deps "kp==0.9.0"
  fi
  "$VPY" -m pip install -q "pybind11>=2.11"
  if [ ! -f build/kp-include/kompute/Algorithm.hpp ]; then
    log "fetching kp's C++ headers (from its sdist) for vkgrad's Kompute companion"
    rm -rf build/kp-sdist && mkdir -p build/kp-sdist
    "$VPY" -m pip download -q --no-deps --no-binary :all: "kp==0.9.0" -d build/kp-sdist
    tar -xzf build/kp-sdist/kp-0.9.0.tar.gz -C build/kp-sdist
    rm -rf build/kp-include && cp -r build/kp-sdist/kp-0.9.0/src/include build/kp-include
  fi
  export VKGRAD_REQUIRE_VULKAN=1  # a shader or companion that fails to build fails setup
fi

log "installing vkgrad (editable; compiles shaders)"
"$VPY" -m pip install -q --no-build-isolation -e ".[${VKGRAD_EXTRAS:-dev}]"
"$VPY" -m vkgrad info
if [ -z "${VKGRAD_CPU_ONLY:-}" ]; then
  "$VPY" -c "import vkgrad.backends.vulkan" || { echo "the Vulkan backend was built but does not import" >&2; exit 1; }
fi
