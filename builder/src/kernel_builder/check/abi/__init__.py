"""ABI compliance checks of a kernel's native libraries (``kernel-builder check-abi``).

* :mod:`.elf` and :mod:`.macho` read what a library imports and links against;
* :mod:`.policies` loads the data in ``lib/`` (manylinux policies, Python and
  Torch stable ABIs, the libraries kernels may link against);
* :mod:`.manylinux`, :mod:`.python_abi` and :mod:`.torch_abi` check one aspect each;
* :mod:`.report` finds the libraries of a kernel and prints the results.
"""

from .binary import BinaryFormatError, BinaryInfo, UndefinedSymbol, Violation, read_binary
from .report import AbiOptions, FileReport, check_library, find_libraries, run_check_abi

__all__ = [
    "AbiOptions",
    "BinaryFormatError",
    "BinaryInfo",
    "FileReport",
    "UndefinedSymbol",
    "Violation",
    "check_library",
    "find_libraries",
    "read_binary",
    "run_check_abi",
]
