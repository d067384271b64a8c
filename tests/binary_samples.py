"""Hand-assembled native binaries for the check-abi tests (Mach-O cannot be linked here)."""

from __future__ import annotations

import struct


def macho(minos: str, libraries: list[str], undefined: list[str], build_version: bool = True) -> bytes:
    """A minimal 64-bit little-endian arm64 Mach-O bundle."""
    major, minor = (int(p) for p in minos.split("."))
    encoded = (major << 16) | (minor << 8)
    commands = []
    if build_version:
        commands.append(struct.pack("<IIIIII", 0x32, 24, 1, encoded, encoded, 0))
    else:
        commands.append(struct.pack("<IIII", 0x24, 16, encoded, encoded))
    for library in libraries:
        name = library.encode() + b"\0"
        size = (24 + len(name) + 7) // 8 * 8
        commands.append(struct.pack("<IIIIII", 0xC, size, 24, 2, 0x10000, 0x10000) + name.ljust(size - 24, b"\0"))
    strings = b"\0" + b"".join(b"_" + n.encode() + b"\0" for n in undefined)
    symtab_size = 24
    header_size = 32
    commands_size = sum(len(c) for c in commands) + symtab_size
    symoff = header_size + commands_size
    symbols = b""
    offset = 1
    for name in undefined:
        symbols += struct.pack("<IBBHQ", offset, 0x01, 0, 0, 0)  # N_UNDF | N_EXT
        offset += len(name) + 2
    stroff = symoff + len(symbols)
    commands.append(struct.pack("<IIIIII", 0x2, symtab_size, symoff, len(undefined), stroff, len(strings)))
    header = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x0100000C, 0, 8, len(commands), commands_size, 0, 0)
    return header + b"".join(commands) + symbols + strings
