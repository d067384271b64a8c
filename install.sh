#!/usr/bin/env bash
# One-step setup of kernels and kernel-builder, optionally with Nix.
#
#   ./install.sh              # a virtual environment (.venv) with kernels, kernel-builder and torch
#   ./install.sh --nix        # the same, plus Nix: installed where missing, flakes and the
#                             # Hugging Face binary cache enabled (needed for the full variant matrix)
#   ./install.sh --nix --dry-run   # only say what would be done
#
# Environment: VENV (default: .venv in the repository), PYTHON (default: python3),
# TORCH_VERSION (default: 2.13.0), NIX_INSTALLER=auto|official|determinate|distro
# (how to install a missing Nix; auto: the official installer on Linux and the
# Determinate installer on macOS when they can be downloaded, else the
# distribution's package, e.g. Debian's nix-bin).
#
# Idempotent: a second run finds everything in place and says so.
set -euo pipefail
REPO="$(cd "$(dirname "$0")" && pwd)"
VENV="${VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
NIX_INSTALLER="${NIX_INSTALLER:-auto}"
WITH_NIX=0
DRY_RUN=0

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
for arg in "$@"; do
  case "$arg" in
    --nix) WITH_NIX=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "install.sh: $*"; }
# Run a command, or only show it with --dry-run.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    echo "install.sh: would run: $*"
  else
    "$@"
  fi
}
as_root() {
  if [ "$(id -u)" = 0 ]; then run "$@";
  elif command -v sudo >/dev/null 2>&1; then run sudo "$@";
  else say "need root for: $*"; return 1; fi
}

# --------------------------------------------------------------------------
# kernels + kernel-builder in a virtual environment.

if [ -x "$VENV/bin/python" ]; then
  say "reusing virtual environment $VENV"
else
  say "creating virtual environment $VENV"
  run "$PYTHON" -m venv "$VENV"
fi
if [ "$DRY_RUN" = 1 ]; then
  say "would install torch ${TORCH_VERSION:-2.13.0} (unless present), kernels and kernel-builder into $VENV"
else
  "$VENV/bin/pip" install -q --upgrade pip
  if "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    say "keeping the installed torch ($("$VENV/bin/python" -c 'import torch; print(torch.__version__)'))"
  else
    say "installing torch ${TORCH_VERSION:=2.13.0}"
    "$VENV/bin/pip" install -q "torch==$TORCH_VERSION"
  fi
  "$VENV/bin/pip" install -q -e "$REPO/python" -e "$REPO/builder"
  say "installed kernels and kernel-builder into $VENV"
fi

# --------------------------------------------------------------------------
# Nix.

nix_conf() {
  # Where settings go: the system configuration as root, else the user's.
  if [ "$(id -u)" = 0 ]; then echo /etc/nix/nix.conf; else echo "${XDG_CONFIG_HOME:-$HOME/.config}/nix/nix.conf"; fi
}

find_nix() {
  command -v nix >/dev/null 2>&1 && return 0
  # A fresh multi-user install is not on this shell's PATH yet.
  for profile in /nix/var/nix/profiles/default/etc/profile.d/nix-daemon.sh "$HOME/.nix-profile/etc/profile.d/nix.sh"; do
    if [ -r "$profile" ]; then
      # shellcheck disable=SC1090
      . "$profile"
      command -v nix >/dev/null 2>&1 && return 0
    fi
  done
  return 1
}

can_download() { command -v curl >/dev/null 2>&1 && curl -fsSI --max-time 15 "$1" >/dev/null 2>&1; }

install_nix() {
  local method="$NIX_INSTALLER" os
  os="$(uname -s)"
  if [ "$method" = auto ]; then
    if [ "$os" = Darwin ] && can_download https://install.determinate.systems/nix; then
      method=determinate
    elif [ "$os" = Linux ] && can_download https://nixos.org/nix/install; then
      method=official
    elif command -v apt-get >/dev/null 2>&1; then
      method=distro
    else
      say "cannot install Nix: the installers cannot be downloaded and there is no distribution package; see https://nixos.org/download"
      return 1
    fi
  fi
  case "$method" in
    official)
      # The official installer: multi-user (daemon) where systemd runs, else single-user.
      local mode=--no-daemon
      [ -d /run/systemd/system ] && mode=--daemon
      say "installing Nix with the official installer ($mode)"
      if [ "$DRY_RUN" = 1 ]; then say "would run: sh <(curl -L https://nixos.org/nix/install) $mode --yes"
      else sh <(curl -fsSL https://nixos.org/nix/install) "$mode" --yes; fi ;;
    determinate)
      say "installing Nix with the Determinate Nix installer"
      if [ "$DRY_RUN" = 1 ]; then say "would run: curl -fsSL https://install.determinate.systems/nix | sh -s -- install --no-confirm"
      else curl -fsSL https://install.determinate.systems/nix | sh -s -- install --no-confirm; fi ;;
    distro)
      say "installing Nix from the distribution (apt-get install nix-bin)"
      as_root apt-get install -y nix-bin ;;
    *) say "unknown NIX_INSTALLER=$method (auto, official, determinate or distro)"; return 1 ;;
  esac
}

flakes_enabled() { [ "$(nix eval --expr 'builtins ? getFlake' 2>/dev/null)" = true ]; }

add_setting() {
  # add_setting FILE LINE: append LINE unless FILE has it already.
  local file="$1" line="$2"
  if [ -f "$file" ] && grep -qxF "$line" "$file"; then return 0; fi
  if [ "$DRY_RUN" = 1 ]; then say "would add '$line' to $file"; return 0; fi
  mkdir -p "$(dirname "$file")"
  printf '%s\n' "$line" >> "$file"
  say "added '$line' to $file"
}

setup_nix() {
  if find_nix; then
    say "Nix found: $(nix --version)"
  else
    install_nix
    if [ "$DRY_RUN" = 1 ]; then
      say "would then enable the nix-command and flakes features and the Hugging Face binary cache"
      return 0
    fi
    find_nix || { say "Nix was installed but is not on the PATH; open a new shell and run install.sh --nix again"; return 1; }
    say "Nix installed: $(nix --version)"
  fi

  if flakes_enabled; then
    say "the nix-command and flakes features are enabled"
  else
    add_setting "$(nix_conf)" "experimental-features = nix-command flakes"
    if [ "$DRY_RUN" = 0 ]; then
      flakes_enabled && say "enabled the nix-command and flakes features" \
        || say "warning: flakes are still disabled (is NIX_CONFIG overriding $(nix_conf)?)"
    fi
  fi

  # The Hugging Face binary cache (prebuilt Torch, toolkits and toolchains).
  if grep -qs "huggingface.cachix.org" /etc/nix/nix.conf "$(nix_conf)" 2>/dev/null; then
    say "the Hugging Face binary cache is already configured"
  elif [ "$DRY_RUN" = 1 ]; then
    if command -v cachix >/dev/null 2>&1; then run cachix use huggingface
    else run nix run nixpkgs#cachix -- use huggingface; fi
  elif command -v cachix >/dev/null 2>&1; then
    cachix use huggingface && say "enabled the Hugging Face binary cache"
  elif can_download https://cache.nixos.org/nix-cache-info; then
    nix run nixpkgs#cachix -- use huggingface && say "enabled the Hugging Face binary cache" \
      || say "warning: could not configure the binary cache; run: nix run nixpkgs#cachix -- use huggingface"
  else
    say "offline: skipped the Hugging Face binary cache (later: nix run nixpkgs#cachix -- use huggingface)"
  fi
  if [ "$DRY_RUN" = 0 ]; then
    say "kernel-builder build now builds the full variant matrix with Nix (--local: this environment's variant only)"
  fi
}

if [ "$WITH_NIX" = 1 ]; then
  setup_nix
elif command -v nix >/dev/null 2>&1; then
  if flakes_enabled; then
    say "Nix found ($(nix --version)) with flakes: kernel-builder build uses Nix (--local for the host toolchain)"
  else
    say "Nix found ($(nix --version)) without flakes; ./install.sh --nix enables them (until then builds use the host toolchain)"
  fi
else
  say "Nix not found: kernel-builder builds this environment's variant with the host toolchain (./install.sh --nix sets up Nix for the full matrix)"
fi
say "activate with: . $VENV/bin/activate"
