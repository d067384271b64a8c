# kernel-builder's CMake template for the rocm backend. Each '#@ <section>' line starts a section
# that generate/cmake.py puts into the generated CMakeLists.txt; {{name}} is replaced by a value.
# order: 20 (sections of backends with a lower order come first; default 50)
#@ toolchain
  enable_language(HIP)
#@ functions
# ROCm: hipify CUDA sources into the build tree; OUT receives the translated paths.
function(kb_hipify out source_root)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" "${CMAKE_CURRENT_SOURCE_DIR}/cmake/hipify.py"
            "${CMAKE_CURRENT_BINARY_DIR}/hipified" "${source_root}" ${ARGN}
    OUTPUT_VARIABLE _translated COMMAND_ERROR_IS_FATAL ANY)
  set(${out} "${_translated}" PARENT_SCOPE)
endfunction()

# Record architectures for metadata.json (ROCm).
function(kb_record_archs archs)
  set(_all ${KB_ALL_CUDA_ARCHS} ${archs})
  list(REMOVE_DUPLICATES _all)
  set(KB_ALL_CUDA_ARCHS "${_all}" PARENT_SCOPE)
endfunction()
#@ kernel-sources
  kb_hipify(_kb_sources "{{source_root}}" {{relative_sources}})
  add_library({{target}} OBJECT ${_kb_sources})
  foreach(_src IN LISTS _kb_sources)
    if(_src MATCHES "\\.(cu|hip)$")
      set_source_files_properties(${_src} PROPERTIES LANGUAGE HIP)
    endif()
  endforeach()
  set_target_properties({{target}} PROPERTIES HIP_ARCHITECTURES "{{rocm_archs}}")
#@ kernel-options
  target_compile_options({{target}} PRIVATE {{?hip_flags}})
  kb_record_archs("{{rocm_archs}}")
