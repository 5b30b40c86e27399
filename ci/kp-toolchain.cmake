# Makes kp 0.9.0's CMake build offline: use Debian's Vulkan headers and fmt and
# the pip-installed pybind11 instead of fetching them (see ci/setup.sh).
set(KOMPUTE_OPT_USE_BUILT_IN_VULKAN_HEADER OFF CACHE BOOL "" FORCE)
set(KOMPUTE_OPT_USE_BUILT_IN_FMT OFF CACHE BOOL "" FORCE)
set(KOMPUTE_OPT_USE_BUILT_IN_PYBIND11 OFF CACHE BOOL "" FORCE)
set(KOMPUTE_OPT_DISABLE_VULKAN_VERSION_CHECK ON CACHE BOOL "" FORCE)
set(KOMPUTE_OPT_INSTALL OFF CACHE BOOL "" FORCE)
set(KOMPUTE_OPT_DISABLE_VK_DEBUG_LAYERS ON CACHE BOOL "" FORCE)
if(DEFINED ENV{PYBIND11_CMAKE_DIR})
  set(pybind11_DIR "$ENV{PYBIND11_CMAKE_DIR}" CACHE PATH "" FORCE)
endif()
# kp's setup.py glues -DPYTHON_EXECUTABLE onto the previous flag (a missing comma),
# so CMake would pick whatever python3.X it finds first: name the venv's.
if(DEFINED ENV{KP_PYTHON})
  set(PYTHON_EXECUTABLE "$ENV{KP_PYTHON}" CACHE FILEPATH "" FORCE)
  set(Python_EXECUTABLE "$ENV{KP_PYTHON}" CACHE FILEPATH "" FORCE)
endif()
