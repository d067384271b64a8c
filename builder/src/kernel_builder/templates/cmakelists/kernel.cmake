# The CMake block that compiles one [kernel.*] section (see generate/cmake.py); a backend's
# template may replace 'kernel-sources' and adds its 'kernel-options'.
#@ kernel
if(KERNEL_BACKEND STREQUAL "{{backend}}")
{{kernel_sources}}
  kb_configure_object({{target}})
  target_include_directories({{target}} PRIVATE {{?includes}})
  target_compile_options({{target}} PRIVATE {{?cxx_flags}})
{{?kernel_options}}
{{?dependencies}}
  target_link_libraries(${OPS_NAME} PRIVATE {{target}})
endif()
#@ kernel-sources
  add_library({{target}} OBJECT {{sources}})
