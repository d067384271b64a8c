# kernel-builder's CMake template for the cpu backend. Each '#@ <section>' line starts a section
# that generate/cmake.py puts into the generated CMakeLists.txt; {{name}} is replaced by a value.
#@ kernel-options
