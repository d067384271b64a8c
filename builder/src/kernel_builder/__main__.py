"""``python -m kernel_builder`` runs the ``kernel-builder`` command line."""

from .cli import main

main()
