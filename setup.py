"""Build steps beyond pyproject.toml: SPIR-V shaders, the Kompute companion and
the CPU backend's fused C loops (_cpukern: optional, the NumPy path without it).

All run in build_ext, so `pip install .` and `pip install -e .` compile them.
Without glslangValidator, pybind11 or kp's headers the package still installs
(CPU backend only) with a warning, unless VKGRAD_REQUIRE_VULKAN=1, which makes
any missing piece, and any shader that fails to compile, fail the build.  The C
loops are optional either way: a compiler that fails them leaves NumPy's path.
kp's headers come from KP_INCLUDE_DIR or build/kp-include (ci/setup.sh puts
them there from kp's sdist)."""
import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
REQUIRE = os.environ.get("VKGRAD_REQUIRE_VULKAN") == "1"


def _kp_include():
    for d in (os.environ.get("KP_INCLUDE_DIR"), os.path.join(HERE, "build", "kp-include")):
        if d and os.path.exists(os.path.join(d, "kompute", "Algorithm.hpp")):
            return d
    return None


def _pybind11_include():
    try:
        import pybind11
        return pybind11.get_include()
    except ImportError:
        return None


class BuildExt(build_ext):
    def _skip(self, what):
        msg = f"vkgrad: {what}; the Vulkan backend will be unavailable (CPU backend only)"
        if REQUIRE:
            raise RuntimeError(msg + " [VKGRAD_REQUIRE_VULKAN=1]")
        print("WARNING: " + msg, file=sys.stderr)

    def run(self):
        pkg_dir = os.path.join(HERE if self.inplace else self.build_lib, "vkgrad")
        sys.path.insert(0, os.path.join(HERE, "shaders"))
        import build as shader_build  # shaders/build.py
        try:
            m = shader_build.build(os.path.join(pkg_dir, "shaders"))
            print(f"vkgrad: compiled {len(m['variants'])} SPIR-V modules "
                  f"(spirv-val {'passed' if m['validated'] else 'not installed'})")
        except FileNotFoundError as e:
            self._skip(str(e))
        kp_inc, pb_inc = _kp_include(), _pybind11_include()
        if kp_inc is None or pb_inc is None:
            self._skip("kp headers (KP_INCLUDE_DIR) or pybind11 not found, so the Kompute "
                       "companion (_vkext) is not built")
            self.extensions = [e for e in self.extensions if e is not ext]
        else:
            ext.include_dirs += [kp_inc, pb_inc]
        super().run()


ext = Extension(
    "vkgrad.backends.vulkan._vkext",
    sources=["vkgrad/backends/vulkan/_vkext.cpp"],
    libraries=["vulkan"],
    define_macros=[("KOMPUTE_OPT_LOG_LEVEL_DISABLED", "1")],
    extra_compile_args=["-std=c++17", "-O2", "-fvisibility=hidden"],
    language="c++",
)

# Plain C called through ctypes (no Python API); -ffp-contract=off: no fused
# multiply-adds, so its loops give the NumPy path's bits. optional: a compiler
# that fails leaves the NumPy path.
cpu_ext = Extension(
    "vkgrad.backends._cpukern",
    sources=["vkgrad/backends/_cpukern.c"],
    extra_compile_args=["-O3", "-ffp-contract=off", "-fno-math-errno", "-fvisibility=hidden", "-pthread",
                        "-fno-tree-loop-distribute-patterns",  # (no memcpy call for 3 elements)
                        "-Wno-psabi"],  # (its 64-byte vectors never cross a call: the helpers always inline)
    extra_link_args=["-pthread"],
    optional=True,
)

setup(ext_modules=[ext, cpu_ext], cmdclass={"build_ext": BuildExt})
