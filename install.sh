#!/usr/bin/env bash
# One-step setup: a virtual environment with `kernels` and `kernel-builder`.
#
#   ./install.sh            # creates .venv in the repository and installs both packages
#   VENV=/path ./install.sh # somewhere else
#
# Idempotent: running it again reuses the environment and reinstalls the packages.
set -euo pipefail
REPO="$(cd "$(dirname "$0")" && pwd)"
VENV="${VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/python" ]; then
  echo "install.sh: reusing virtual environment $VENV"
else
  echo "install.sh: creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --upgrade pip
if "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "install.sh: keeping the installed torch ($("$VENV/bin/python" -c 'import torch; print(torch.__version__)'))"
else
  echo "install.sh: installing torch ${TORCH_VERSION:=2.13.0}"
  "$VENV/bin/pip" install -q "torch==$TORCH_VERSION"
fi
"$VENV/bin/pip" install -q -e "$REPO/python" -e "$REPO/builder"
echo "install.sh: installed kernels and kernel-builder into $VENV"

if command -v nix >/dev/null 2>&1; then
  echo "install.sh: Nix found ($(nix --version)); the full variant matrix can be built with Nix"
else
  echo "install.sh: Nix not found; kernel-builder builds this environment's variant with the host toolchain"
fi
echo "install.sh: activate with: . $VENV/bin/activate"
