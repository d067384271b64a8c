"""Check stage: the ABI of built libraries (abi/) and the layout of build/ (builds)."""
