"""Generate stage: the scikit-build-core project (pyproject.toml, CMakeLists.txt) from build.toml and per-backend templates."""
