# kernel-builder's CMake template for the xpu backend. Each '#@ <section>' line starts a section
# that generate/cmake.py puts into the generated CMakeLists.txt; {{name}} is replaced by a value.
# order: 30 (sections of backends with a lower order come first; default 50)
#@ toolchain
  # SYCL kernels need the oneAPI DPC++ compiler: configure with CXX=icpx.
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "IntelLLVM")
    message(FATAL_ERROR "kernel-builder: the xpu backend needs the oneAPI DPC++ compiler (CXX=icpx), found ${CMAKE_CXX_COMPILER_ID}")
  endif()
#@ link
  target_link_options(${OPS_NAME} PRIVATE -fsycl)
#@ kernel-options
  target_compile_options({{target}} PRIVATE {{sycl_flags}})
