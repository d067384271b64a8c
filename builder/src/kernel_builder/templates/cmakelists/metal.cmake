# kernel-builder's CMake template for the metal backend. Each '#@ <section>' line starts a section
# that generate/cmake.py puts into the generated CMakeLists.txt; {{name}} is replaced by a value.
# order: 40 (sections of backends with a lower order come first; default 50)
#@ toolchain
  if(NOT APPLE)
    message(FATAL_ERROR "kernel-builder: the metal backend builds on macOS only")
  endif()
  # Kernel requirements: macOS deployment target 15.0 and Metal 3.0.
  set(CMAKE_OSX_DEPLOYMENT_TARGET "15.0")
  enable_language(OBJCXX)
  find_program(KB_XCRUN xcrun REQUIRED)
#@ link
  target_link_libraries(${OPS_NAME} PRIVATE "-framework Metal" "-framework Foundation")
#@ functions
# Metal: compile the shaders to one metallib (Metal 3.0, macOS 15) and embed it
# as the byte array <name>_metallib / <name>_metallib_size.
function(kb_embed_metal target name)
  set(_airs "")
  foreach(_shader IN LISTS ARGN)
    get_filename_component(_stem "${_shader}" NAME_WE)
    set(_air "${CMAKE_CURRENT_BINARY_DIR}/metal/${name}/${_stem}.air")
    add_custom_command(OUTPUT "${_air}"
      COMMAND "${KB_XCRUN}" -sdk macosx metal -std=metal3.0 -mmacosx-version-min=15.0 -c "${_shader}" -o "${_air}"
      DEPENDS "${_shader}" VERBATIM)
    list(APPEND _airs "${_air}")
  endforeach()
  set(_lib "${CMAKE_CURRENT_BINARY_DIR}/metal/${name}.metallib")
  set(_cpp "${CMAKE_CURRENT_BINARY_DIR}/metal/${name}_metallib.cpp")
  add_custom_command(OUTPUT "${_lib}" COMMAND "${KB_XCRUN}" -sdk macosx metallib ${_airs} -o "${_lib}" DEPENDS ${_airs} VERBATIM)
  add_custom_command(OUTPUT "${_cpp}"
    COMMAND "${CMAKE_COMMAND}" -DMETALLIB=${_lib} -DSYMBOL=${name}_metallib -DOUTPUT=${_cpp} -P "${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_metallib.cmake"
    DEPENDS "${_lib}" VERBATIM)
  target_sources(${target} PRIVATE "${_cpp}")
  target_compile_definitions(${target} PRIVATE EMBEDDED_METALLIB_SYMBOL=${name}_metallib)
endfunction()
#@ kernel-options
  set_target_properties({{target}} PROPERTIES OBJC_STANDARD 11)
  kb_embed_metal({{target}} {{metal_name}} {{?shaders}})
