#!/usr/bin/env bash
# Benchmark vkgrad on a Linux machine with a GPU and no network, in one command.
#
#   bash ci/gpu-bench.sh prepare DIR     on a networked Debian/Ubuntu x86-64 machine:
#                                        puts the Vulkan loader and headers (.deb), fmt,
#                                        Kompute's sdist and the compiled SPIR-V in DIR
#   bash ci/gpu-bench.sh run DIR [OUT]   on the GPU machine (offline): unpacks the .debs
#                                        into a private prefix (never over /), builds kp
#                                        and vkgrad against them, runs the test suite on
#                                        the GPU, `python -m vkgrad.bench` (large sizes
#                                        on a GPU) and the training benchmark, and
#                                        writes table, JSON and plot to OUT (default
#                                        ./gpu-results); 4-5 minutes on an H200 machine
#   bash ci/gpu-bench.sh exec DIR OUT CMD...  the same set-up, then CMD (with $PY the
#                                        venv's python) instead of the benchmarks
#
# The GPU machine needs python3 (3.9+) with pip, numpy, pybind11 and setuptools,
# cmake, a C++ compiler and the GPU driver's Vulkan ICD; matplotlib for the plot.
# KP_SO=FILE skips kp's build and uses that module (from an earlier run's venv);
# GPU_BENCH_TESTS="tests/test_x.py ..." runs those tests only ("" none; default: all).
# Every long step has a timeout (120 + 60 + 95 + 120 + 25 + 2 x 25 + 25 + 15 + 15 + 25 + 2 x 25 = 600 s in all),
# so the whole run stays under ten minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
mode=${1:-}
DIR=$(realpath -m "${2:-gpu-bench-files}")

case "$mode" in
prepare)
  mkdir -p "$DIR/debs"
  # the loader and headers; glvnd's dispatch libraries, which NVIDIA's ICD library loads
  (cd "$DIR/debs" && apt-get download libvulkan1 libvulkan-dev libfmt-dev libfmt9 libglvnd0 libglx0 libegl1)
  python3 -m pip download -q --no-deps --no-binary :all: "kp==0.9.0" -d "$DIR"
  # pure-Python build tools, in case the GPU machine's are missing or old
  python3 -m pip download -q --no-deps --only-binary :all: setuptools wheel pybind11 -d "$DIR/wheels"
  # the suite in 8 processes on the GPU machine (one process took over 130 s on an H100)
  python3 -m pip download -q --no-deps --only-binary :all: pytest-xdist execnet -d "$DIR/wheels"
  python3 shaders/build.py "$DIR/shaders"
  echo "prepared $DIR: $(ls "$DIR/debs" | wc -l) .deb files, kp sdist, $(ls "$DIR/shaders" | wc -l) shader files"
  ;;
run|exec)
  OUT=$(realpath -m "${3:-gpu-results}")
  TESTS=${GPU_BENCH_TESTS-tests}
  mkdir -p "$OUT"
  PREFIX=/tmp/vkgrad-prefix
  mkdir -p "$PREFIX"
  for f in "$DIR"/debs/*.deb; do dpkg -x "$f" "$PREFIX"; done
  LIBDIR="$PREFIX/usr/lib/x86_64-linux-gnu"
  export CPATH="$PREFIX/usr/include${CPATH:+:$CPATH}"
  export LIBRARY_PATH="$LIBDIR${LIBRARY_PATH:+:$LIBRARY_PATH}"
  export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export CMAKE_PREFIX_PATH="$PREFIX/usr"
  # the driver's ICD: the NVIDIA container layout, then the usual places
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
             /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then export VK_DRIVER_FILES="$icd"; fi
  done
  VENV=/tmp/vkgrad-venv
  python3 -m venv --system-site-packages "$VENV"
  VPY="$VENV/bin/python"
  # a python3 that is itself a venv (e.g. /opt/torch/.venv): --system-site-packages
  # reaches its base interpreter only, so name the venv's packages (numpy, matplotlib) too
  site() { "$1" -c "import sysconfig; print(sysconfig.get_paths()['$2'])"; }  # PYTHON purelib|platlib
  site python3 purelib > "$(site "$VPY" purelib)/outer-python.pth"
  "$VPY" -m pip install -q --no-index --find-links "$DIR/wheels" --upgrade setuptools wheel pybind11
  "$VPY" -c "import xdist" 2>/dev/null \
    || "$VPY" -m pip install -q --no-index --find-links "$DIR/wheels" pytest-xdist 2>/dev/null \
    || echo "(pytest-xdist not in $DIR/wheels: the suite runs in one process)"
  export KP_PYTHON="$VPY" CMAKE_TOOLCHAIN_FILE="$ROOT/ci/kp-toolchain.cmake"
  export PYBIND11_CMAKE_DIR=$("$VPY" -c 'import pybind11; print(pybind11.get_cmake_dir())')
  export CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
  if [ -n "${KP_SO:-}" ]; then  # a kp module built by an earlier run on the same kind of machine
    echo "== kp: using $KP_SO"
    cp "$KP_SO" "$(site "$VPY" platlib)/"
  else
    echo "== building kp 0.9.0 offline"
    timeout 120 "$VPY" -m pip install -q --no-index --no-build-isolation --no-deps "$DIR"/kp-0.9.0.tar.gz
  fi
  rm -rf build/kp-include && mkdir -p build/kp-sdist
  tar -xzf "$DIR"/kp-0.9.0.tar.gz -C build/kp-sdist
  cp -r build/kp-sdist/kp-0.9.0/src/include build/kp-include
  rm -rf vkgrad/shaders && cp -r "$DIR/shaders" vkgrad/shaders  # no glslang needed here
  echo "== building vkgrad"
  timeout 60 "$VPY" -m pip install -q --no-index --no-build-isolation --no-deps -e .
  "$VPY" -m vkgrad info | tee "$OUT/info.txt"
  if [ "$mode" = exec ]; then  # set up, then the caller's own command in that environment
    export PY="$VPY"
    echo "== ${*:4}"
    exec "${@:4}"
  fi
  if [ -n "$TESTS" ]; then
    echo "== the test suite on this device (its Vulkan backend is the GPU here): $TESTS"
    # (VKGRAD_DEVICE_TUNING=gpu and VKGRAD_VULKAN_ARENA=device, a discrete GPU's own
    # choices: the suite's reruns of its Vulkan tests with them forced, for machines
    # without a GPU, skip themselves)
    # (the Vulkan configurations only, in 8 processes where pytest-xdist is there: an
    # H100 compiled pipelines for 130 s and more in one process; 76 s for all in 8)
    XDIST=()
    if "$VPY" -c "import xdist" 2>/dev/null; then XDIST=(-n 8 --dist loadfile); fi
    # shellcheck disable=SC2086
    VKGRAD_TEST_BACKENDS=vulkan-f32,vulkan-f16 VKGRAD_DEVICE_TUNING=gpu VKGRAD_VULKAN_ARENA=device \
        timeout 95 "$VPY" -m pytest -q --maxfail=20 -p no:cacheprovider -rfE "${XDIST[@]}" $TESTS 2>&1 \
        | tail -n 40 \
        | tee "$OUT/tests_gpu.txt" || echo "tests failed or timed out"
  fi
  echo "== shader benchmarks"
  PLOT=()
  if "$VPY" -c "import matplotlib" 2>/dev/null; then PLOT=(--plot "$OUT/roofline_gpu.png")
  else echo "(matplotlib not installed: no roofline plot)"; fi
  timeout 120 "$VPY" -m vkgrad.bench --no-progress --json "$OUT/bench_gpu.json" "${PLOT[@]}" \
      | tee "$OUT/bench_gpu.txt" || echo "bench failed or timed out"
  echo "== matmul with the other kernel (GPUs default to matmul_sm: this is matmul_sg)"
  VKGRAD_MATMUL_KERNEL=sg timeout 25 "$VPY" -m vkgrad.bench --no-progress --only matmul \
      --json "$OUT/bench_gpu_matmul_sg.json" | tee "$OUT/bench_gpu_matmul_sg.txt" || echo "matmul_sg bench failed"
  echo "== matmul_sm with each block size (64 x 64, 128 x 128; the default picks by vendor and size)"
  for tile in 64 128; do
    VKGRAD_MATMUL_KERNEL=sm VKGRAD_MATMUL_TILE=$tile timeout 25 "$VPY" -m vkgrad.bench --no-progress \
        --only matmul --dtype f32 --json "$OUT/bench_gpu_matmul_sm$tile.json" \
        | tee "$OUT/bench_gpu_matmul_sm$tile.txt" || echo "matmul_sm $tile bench failed"
  done
  echo "== matmul without split K (VKGRAD_MATMUL_SPLITK=0; GPUs split K for products of few blocks): A/B"
  VKGRAD_MATMUL_SPLITK=0 timeout 25 "$VPY" -m vkgrad.bench --no-progress --only matmul --dtype f32 \
      --json "$OUT/bench_gpu_matmul_nosplitk.json" | tee "$OUT/bench_gpu_matmul_nosplitk.txt" \
      || echo "no-split-K matmul bench failed"
  echo "== transposes by transpose4's blocks (GPUs default to shared-memory tiles): A/B"
  VKGRAD_TRANSPOSE=blocks timeout 15 "$VPY" -m vkgrad.bench --no-progress --only elementwise --cases transpose \
      --json "$OUT/bench_gpu_transpose_blocks.json" | tee "$OUT/bench_gpu_transpose_blocks.txt" \
      || echo "transpose-blocks bench failed"
  echo "== im2col / col2im by runs of elements, column sums by a subgroup per item (GPUs default to"
  echo "   batch walks and split items): A/B"
  VKGRAD_WINDOW_WALK=runs VKGRAD_COL_SPLIT=0 timeout 15 "$VPY" -m vkgrad.bench --no-progress \
      --only conv,reduce --cases im2col,col2im,conv2d,"sum axis0" \
      --json "$OUT/bench_gpu_runs_nosplit.json" | tee "$OUT/bench_gpu_runs_nosplit.txt" \
      || echo "window-runs / no-split bench failed"
  echo "== memory-bound families with a CPU device's choices (texel reads, a lane per row part, ...): A/B"
  VKGRAD_DEVICE_TUNING=cpu timeout 25 "$VPY" -m vkgrad.bench --no-progress --dtype f32 \
      --only elementwise,reduce,softmax,batchnorm --json "$OUT/bench_gpu_cpu_tuning.json" \
      | tee "$OUT/bench_gpu_cpu_tuning.txt" || echo "cpu-tuning bench failed or timed out"
  echo "== training step (eager, then a captured step replayed)"
  timeout 25 "$VPY" benchmarks/train_step.py --device vulkan --steps 100 --json "$OUT/train_step_gpu.json" \
      | tee "$OUT/train_step_gpu.txt" || echo "train_step failed or timed out"
  timeout 25 "$VPY" benchmarks/train_step.py --device vulkan --steps 100 --capture \
      --json "$OUT/train_step_gpu_captured.json" | tee "$OUT/train_step_gpu_captured.txt" \
      || echo "train_step --capture failed or timed out"
  echo "results in $OUT"
  ;;
*)
  sed -n '2,20p' "$0"
  exit 2
  ;;
esac
