# kernel-builder's CMake template for the cpu backend. Each '#@ <section>' line starts a section
# that generate/cmake.py puts into the generated CMakeLists.txt; {{name}} is replaced by a value.
# order: 90 (sections of backends with a lower order come first; default 50)
#@ kernel-options
