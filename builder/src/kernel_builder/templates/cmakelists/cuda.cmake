# kernel-builder's CMake template for the cuda backend. Each '#@ <section>' line starts a section
# that generate/cmake.py puts into the generated CMakeLists.txt; {{name}} is replaced by a value.
# order: 10 (sections of backends with a lower order come first; default 50)
#@ languages
  enable_language(CUDA)
  string(REGEX MATCH "^[0-9]+\.[0-9]+" KB_CUDA_TOOLKIT "${CMAKE_CUDA_COMPILER_VERSION}")
  # Architectures are set per kernel target; Torch warns if this is defined.
  unset(CMAKE_CUDA_ARCHITECTURES)
  unset(CMAKE_CUDA_ARCHITECTURES CACHE)
  # Torch adds -gencode flags for TORCH_CUDA_ARCH_LIST to CMAKE_CUDA_FLAGS;
  # each kernel sets its own architectures below, so those are dropped again.
  if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(ENV{TORCH_CUDA_ARCH_LIST} "7.5")
  endif()
#@ after-torch
  string(REGEX REPLACE "-gencode +arch=[^ ]+" "" CMAKE_CUDA_FLAGS "${CMAKE_CUDA_FLAGS}")
  # nvcc compiles the architectures of one file in parallel (0: one thread per core).
  if(NOT DEFINED KB_NVCC_THREADS)
    set(KB_NVCC_THREADS 0)
  endif()
  string(APPEND CMAKE_CUDA_FLAGS " --threads=${KB_NVCC_THREADS}")
  # Torch's CUDA headers include the CUDA math libraries (cuSPARSE, cuBLAS, ...).
  # A toolkit without them can use the headers of Torch's pip dependencies.
  if(NOT EXISTS "${CUDAToolkit_INCLUDE_DIRS}/cusparse.h")
    execute_process(
      COMMAND "${Python_EXECUTABLE}" -c "import glob, importlib.util, os; s = importlib.util.find_spec('nvidia'); print(';'.join(sorted(d for p in (s.submodule_search_locations if s else []) for d in glob.glob(os.path.join(p, '*', 'include')))))"
      OUTPUT_VARIABLE KB_EXTRA_INCLUDES OUTPUT_STRIP_TRAILING_WHITESPACE)
    message(STATUS "kernel-builder: CUDA math library headers from Torch's dependencies: ${KB_EXTRA_INCLUDES}")
  endif()
#@ functions
# Turn ["8.0", "9.0a"] into CUDA_ARCHITECTURES "80-real;90a-real", giving the
# highest plain capability PTX too so newer GPUs can JIT it.
set(KB_ALL_CUDA_ARCHS "")
function(kb_set_cuda_archs target caps record)
  set(_archs "")
  set(_ptx "")
  foreach(_cap IN LISTS caps)
    string(REPLACE "." "" _arch "${_cap}")
    list(APPEND _archs "${_arch}-real")
    if(_cap MATCHES "^[0-9]+\\.[0-9]+$")
      set(_ptx "${_arch}")
    endif()
  endforeach()
  if(_ptx)
    list(REMOVE_ITEM _archs "${_ptx}-real")
    list(APPEND _archs "${_ptx}")
  endif()
  set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES "${_archs}")
  if(NOT record)
    return()
  endif()
  set(_all ${KB_ALL_CUDA_ARCHS})
  foreach(_cap IN LISTS caps)
    string(REPLACE "." "" _arch "${_cap}")
    if(_arch STREQUAL _ptx)
      list(APPEND _all "${_cap}+PTX")
    else()
      list(APPEND _all "${_cap}")
    endif()
  endforeach()
  list(REMOVE_DUPLICATES _all)
  set(KB_ALL_CUDA_ARCHS "${_all}" PARENT_SCOPE)
endfunction()
#@ extension
  # The extension's own sources ([torch] src) use the toolkit's default capabilities.
{{extension_arch_block}}
#@ kernel-options
  target_compile_options({{target}} PRIVATE {{?cuda_flags}})
{{cuda_arch_block}}
