"""kernel-builder: build, check and upload Hugging Face Hub kernels."""

__version__ = "0.17.2"
