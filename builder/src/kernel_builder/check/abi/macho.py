"""A small Mach-O reader: imported symbols, linked libraries, minimum macOS.

Enough of the format for the checks: the header, the load commands that name
libraries (``LC_LOAD_DYLIB`` and friends), the deployment target
(``LC_BUILD_VERSION`` / ``LC_VERSION_MIN_MACOSX``) and the undefined external
symbols of ``LC_SYMTAB``. Universal (fat) files are read slice by slice; the
result merges the slices and keeps the highest deployment target.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Optional

from .binary import BinaryFormatError, BinaryInfo, UndefinedSymbol

_CPU_TYPES = {0x01000007: "x86_64", 0x0100000C: "aarch64", 7: "i386", 12: "arm"}
_FILE_TYPES = {1: "object file", 2: "executable", 6: "shared library", 8: "bundle"}

LC_SYMTAB = 0x2
LC_LOAD_DYLIB = 0xC
LC_LAZY_LOAD_DYLIB = 0x20
LC_LOAD_WEAK_DYLIB = 0x80000018
LC_REEXPORT_DYLIB = 0x8000001F
LC_LOAD_UPWARD_DYLIB = 0x80000023
LC_VERSION_MIN_MACOSX = 0x24
LC_BUILD_VERSION = 0x32
PLATFORM_MACOS = 1
_DYLIB_COMMANDS = {LC_LOAD_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LOAD_UPWARD_DYLIB}

N_STAB = 0xE0
N_TYPE = 0x0E
N_EXT = 0x01
N_UNDF = 0x0
N_WEAK_REF = 0x0040


def format_version(value: int) -> str:
    """Mach-O ``xxxx.yy.zz`` nibble encoding -> ``"15.0"`` (patch only when set)."""
    major, minor, patch = value >> 16, (value >> 8) & 0xFF, value & 0xFF
    return f"{major}.{minor}.{patch}" if patch else f"{major}.{minor}"


def read_macho(path: Path) -> BinaryInfo:
    data = Path(path).read_bytes() if os.path.getsize(path) < 1 << 31 else None
    if data is None:
        raise BinaryFormatError(path, "Mach-O file larger than 2 GiB is not supported")
    magic = data[:4]
    if magic in (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"):
        return _read_fat(Path(path), data, wide=magic == b"\xca\xfe\xba\xbf")
    return _read_thin(Path(path), data, 0, len(data))


def _need(path: Path, data: bytes, offset: int, size: int, what: str) -> None:
    if offset < 0 or size < 0 or offset + size > len(data):
        raise BinaryFormatError(path, f"malformed or truncated Mach-O file: {what} extends past the end of the file")


def _read_fat(path: Path, data: bytes, wide: bool) -> BinaryInfo:
    _need(path, data, 0, 8, "universal header")
    (count,) = struct.unpack_from(">I", data, 4)
    entry = 32 if wide else 20
    if count == 0 or count > 64:
        raise BinaryFormatError(path, f"malformed universal Mach-O file ({count} architectures)")
    _need(path, data, 8, count * entry, "universal architecture table")
    slices = []
    for i in range(count):
        if wide:
            _cpu, _sub, offset, size, _align, _res = struct.unpack_from(">iiQQII", data, 8 + i * entry)
        else:
            _cpu, _sub, offset, size, _align = struct.unpack_from(">iiIII", data, 8 + i * entry)
        _need(path, data, offset, size, f"architecture slice {i}")
        slices.append(_read_thin(path, data, offset, size))
    merged = slices[0]
    merged.arch = "+".join(s.arch for s in slices)
    merged.needed = tuple(dict.fromkeys(n for s in slices for n in s.needed))
    merged.undefined = tuple(dict.fromkeys(u for s in slices for u in s.undefined))
    versions = [s.min_os for s in slices if s.min_os]
    merged.min_os = max(versions, key=lambda v: tuple(int(p) for p in v.split("."))) if versions else None
    return merged


def _read_thin(path: Path, data: bytes, base: int, length: int) -> BinaryInfo:
    _need(path, data, base, 28, "Mach-O header")
    raw_magic = data[base: base + 4]
    endian = "<" if raw_magic in (b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe") else ">"
    wide = raw_magic in (b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe")
    if raw_magic not in (b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe"):
        raise BinaryFormatError(path, "malformed Mach-O file (bad slice magic)")
    _magic, cputype, _sub, filetype, ncmds, sizeofcmds, _flags = struct.unpack_from(endian + "IiiIIII", data, base)
    header = 32 if wide else 28
    end = base + length
    _need(path, data, base + header, sizeofcmds, "load commands")
    if base + header + sizeofcmds > end:
        raise BinaryFormatError(path, "malformed Mach-O file: load commands extend past the slice")

    if ncmds > sizeofcmds // 8:  # every load command takes at least 8 bytes
        raise BinaryFormatError(path, f"malformed Mach-O file: {ncmds} load commands claimed in {sizeofcmds} bytes")
    needed: list[str] = []
    min_os: Optional[str] = None
    symtab: Optional[tuple[int, int, int, int]] = None
    offset = base + header
    stop = offset + sizeofcmds
    for index in range(ncmds):
        if offset + 8 > stop:
            raise BinaryFormatError(path, f"malformed Mach-O file: load command {index} past the command area")
        cmd, cmdsize = struct.unpack_from(endian + "II", data, offset)
        if cmdsize < 8 or offset + cmdsize > stop:
            raise BinaryFormatError(path, f"malformed Mach-O file: load command {index} has size {cmdsize}")
        if cmd in _DYLIB_COMMANDS and cmdsize >= 24:
            (name_at,) = struct.unpack_from(endian + "I", data, offset + 8)
            if not 24 <= name_at < cmdsize:
                raise BinaryFormatError(path, f"malformed Mach-O file: library name of load command {index}")
            raw = data[offset + name_at: offset + cmdsize].split(b"\0", 1)[0]
            needed.append(raw.decode("utf-8", "replace"))
        elif cmd == LC_BUILD_VERSION and cmdsize >= 24:
            platform, minos = struct.unpack_from(endian + "II", data, offset + 8)
            if platform == PLATFORM_MACOS:
                min_os = format_version(minos)
        elif cmd == LC_VERSION_MIN_MACOSX and cmdsize >= 16:
            (version,) = struct.unpack_from(endian + "I", data, offset + 8)
            min_os = min_os or format_version(version)
        elif cmd == LC_SYMTAB and cmdsize >= 24:
            symtab = struct.unpack_from(endian + "IIII", data, offset + 8)
        offset += cmdsize

    undefined: list[UndefinedSymbol] = []
    defined = 0
    if symtab is not None:
        symoff, nsyms, stroff, strsize = symtab
        entsize = 16 if wide else 12
        _need(path, data, base + symoff, nsyms * entsize, "symbol table")
        _need(path, data, base + stroff, strsize, "string table")
        strings = data[base + stroff: base + stroff + strsize]
        fmt = endian + ("IBBHQ" if wide else "IBBHI")
        for n_strx, n_type, _sect, n_desc, _value in struct.iter_unpack(
            fmt, data[base + symoff: base + symoff + nsyms * entsize]
        ):
            if n_type & N_STAB:
                continue
            if (n_type & N_TYPE) != N_UNDF or not n_type & N_EXT:
                defined += 1
                continue
            if n_strx >= len(strings):
                raise BinaryFormatError(path, "malformed Mach-O file: symbol name outside the string table")
            stop_at = strings.find(b"\0", n_strx)
            name = strings[n_strx: stop_at if stop_at >= 0 else len(strings)].decode("utf-8", "replace")
            if name.startswith("_"):
                name = name[1:]  # C names carry a leading underscore in Mach-O
            if name:
                undefined.append(UndefinedSymbol(name=name, weak=bool(n_desc & N_WEAK_REF)))

    return BinaryInfo(
        path=path,
        format="Mach-O",
        arch=_CPU_TYPES.get(cputype, f"unknown ({cputype:#x})"),
        kind=_FILE_TYPES.get(filetype, f"type {filetype}"),
        needed=tuple(needed),
        undefined=tuple(undefined),
        min_os=min_os,
        defined_symbols=defined,
    )
