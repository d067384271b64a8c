"""Read the dynamic linking facts of an ELF library with pyelftools.

pyelftools gives us the headers, the section table, the dynamic tags and the
version-needed records. The two large per-symbol tables (``.dynsym`` and
``.gnu.version``) are decoded in bulk with :mod:`struct` from the section
bounds pyelftools reports, which keeps a check of a several-hundred-megabyte
library well under a second.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from .binary import BinaryFormatError, BinaryInfo, UndefinedSymbol

_ARCHS = {
    "EM_X86_64": "x86_64",
    "EM_AARCH64": "aarch64",
    "EM_386": "i686",
    "EM_ARM": "armv7l",
    "EM_PPC64": "ppc64le",
    "EM_S390": "s390x",
    "EM_RISCV": "riscv64",
}
_KINDS = {"ET_DYN": "shared library", "ET_EXEC": "executable"}
_STB_WEAK = 2
_SHN_UNDEF = 0


def read_elf(path: Path) -> BinaryInfo:
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        return _read(stream, Path(path), size)


def _read(stream: BinaryIO, path: Path, size: int) -> BinaryInfo:
    elf = ELFFile(stream)
    e_type = elf["e_type"]
    if e_type not in _KINDS:
        what = {"ET_REL": "a relocatable object (.o), not a shared library", "ET_CORE": "a core dump"}
        raise BinaryFormatError(path, f"ELF file is {what.get(e_type, f'of type {e_type}')}")
    machine = elf["e_machine"]
    arch = _ARCHS.get(machine, f"unknown ({machine})")
    if elf["e_shoff"] == 0 or elf.num_sections() == 0:
        raise BinaryFormatError(path, "ELF file has no section headers; cannot find its dynamic symbols")
    end = elf["e_shoff"] + elf.num_sections() * elf["e_shentsize"]
    if end > size:
        raise BinaryFormatError(path, f"truncated ELF file: section headers end at byte {end}, file has {size}")

    sections = list(elf.iter_sections())
    dynsym = next((s for s in sections if s["sh_type"] == "SHT_DYNSYM"), None)
    versym = next((s for s in sections if s["sh_type"] == "SHT_GNU_versym"), None)
    verneed = next((s for s in sections if isinstance(s, GNUVerNeedSection)), None)
    dynamic = next((s for s in sections if isinstance(s, DynamicSection)), None)

    needed: list[str] = []
    if dynamic is not None:
        _check_bounds(path, dynamic, size)
        for tag in dynamic.iter_tags():
            if tag.entry.d_tag == "DT_NEEDED":
                needed.append(tag.needed)
            elif tag.entry.d_tag == "DT_NULL":
                break

    # Version index -> (library, version name), from .gnu.version_r.
    version_names: dict[int, tuple[str, str]] = {}
    required: dict[str, list[str]] = {}
    if verneed is not None:
        _check_bounds(path, verneed, size)
        for need, auxiliaries in verneed.iter_versions():
            for aux in auxiliaries:
                version_names[aux["vna_other"]] = (need.name, aux.name)
                required.setdefault(need.name, []).append(aux.name)

    undefined: list[UndefinedSymbol] = []
    defined = 0
    if dynsym is not None:
        strtab = elf.get_section(dynsym["sh_link"])
        raw = _section_bytes(path, stream, dynsym, size)
        names = _section_bytes(path, stream, strtab, size)
        if elf.elfclass == 64:
            fmt, entsize, info_at, shndx_at = "IBBHQQ", 24, 1, 3
        else:
            fmt, entsize, info_at, shndx_at = "IIIBBH", 16, 3, 5
        endian = "<" if elf.little_endian else ">"
        count = len(raw) // entsize
        versions: tuple[int, ...] = ()
        if versym is not None:
            vraw = _section_bytes(path, stream, versym, size)
            versions = struct.unpack(f"{endian}{len(vraw) // 2}H", vraw[: len(vraw) // 2 * 2])
        for index, entry in enumerate(struct.iter_unpack(endian + fmt, raw[: count * entsize])):
            if index == 0:
                continue
            if entry[shndx_at] != _SHN_UNDEF:
                defined += 1
                continue
            offset = entry[0]
            if offset == 0:
                continue
            if offset >= len(names):
                raise BinaryFormatError(path, f"malformed ELF file: symbol {index} has a name outside .dynstr")
            stop = names.find(b"\0", offset)
            name = names[offset: stop if stop >= 0 else len(names)].decode("utf-8", "replace")
            library = version = None
            if index < len(versions):
                found = version_names.get(versions[index] & 0x7FFF)
                if found is not None:
                    library, version = found
            weak = (entry[info_at] >> 4) == _STB_WEAK
            undefined.append(UndefinedSymbol(name=name, version=version, library=library, weak=weak))

    producers: tuple[str, ...] = ()
    comment = next((s for s in sections if s.name == ".comment"), None)
    if comment is not None and comment["sh_type"] != "SHT_NOBITS" and comment["sh_size"] < 1 << 20:
        text = _section_bytes(path, stream, comment, size)
        seen: list[str] = []
        for part in text.split(b"\0"):
            line = part.decode("utf-8", "replace").strip()
            if line and line not in seen:
                seen.append(line)
        producers = tuple(seen)

    return BinaryInfo(
        path=path,
        format="ELF",
        arch=arch,
        kind=_KINDS[e_type],
        needed=tuple(needed),
        undefined=tuple(undefined),
        required_versions={lib: tuple(v) for lib, v in required.items()},
        producers=producers,
        defined_symbols=defined,
    )


def _check_bounds(path: Path, section, size: int) -> None:  # type: ignore[no-untyped-def]
    if section["sh_type"] == "SHT_NOBITS":
        return
    end = section["sh_offset"] + section["sh_size"]
    if end > size:
        raise BinaryFormatError(
            path, f"truncated ELF file: section {section.name or '?'} ends at byte {end}, file has {size}"
        )


def _section_bytes(path: Path, stream: BinaryIO, section, size: int) -> bytes:  # type: ignore[no-untyped-def]
    _check_bounds(path, section, size)
    if section["sh_type"] == "SHT_NOBITS":
        return b""
    stream.seek(section["sh_offset"])
    data = stream.read(section["sh_size"])
    if len(data) != section["sh_size"]:
        raise BinaryFormatError(path, f"truncated ELF file: section {section.name or '?'} is incomplete")
    return data
