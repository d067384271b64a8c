#!/usr/bin/env bash
# The old name of bench/run_gpu.sh (it benchmarks whatever GPU it finds and
# names the report after it): kept so that existing commands keep working.
exec "$(dirname "$0")/run_gpu.sh" "$@"
