"""The steps a Nix build runs inside its sandbox: ``python -m kernel_builder.build.nix_sandbox <step>``.

Called by the variant derivations of ``lib/build.nix``:

* ``assemble``: turn a CMake install tree into ``build/<variant>/`` contents
  (metadata.json, runpaths stripped, no bytecode);
* ``assemble-noarch``: the same for Python-only kernels;
* ``check``: runpaths, ``check-builds`` (layout, metadata, importing the
  variant through ``kernels``) and ``check-abi``;
* ``strip-runpaths``: remove DT_RPATH/DT_RUNPATH from the ELF files of a tree.
* ``digest``: record the digest of the variant's files in metadata.json, after
  Nix's fixup phase (which may strip binaries) has run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..check.abi.elf import elf_files, runpaths, strip_runpaths
from ..config import BuildConfig, load_config
from ..errors import KernelBuilderError
from .nix import format_command

Log = Callable[[str], None]


# --------------------------------------------------------------------------
# Inside the build: assembling and checking build/<variant>/.


def _finish_variant(config: BuildConfig, out: Path, metadata) -> None:  # type: ignore[no-untyped-def]
    from .local import record_digest, remove_bytecode, write_metadata

    write_metadata(out, metadata)
    remove_bytecode(out)
    record_digest(out)


def assemble(kernel_dir: Path, backend: str, install_dir: Path, cmake_build: Path, out: Path) -> None:
    """``out`` = build/<variant>/ from a CMake install tree of the generated project."""
    from .local import built_archs, variant_metadata

    config = load_config(kernel_dir)
    package = install_dir / config.general.module_name
    if not package.is_dir():
        raise KernelBuilderError(f"{install_dir}: the CMake install holds no '{config.general.module_name}' package")
    info_file = cmake_build / "kernel-build-info.json"
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise KernelBuilderError(f"{info_file}: cannot read build information ({e})") from None
    if info.get("backend") != backend:
        raise KernelBuilderError(f"{info_file}: built for backend {info.get('backend')!r}, expected {backend!r}")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(package, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
    archs = built_archs(info, backend)
    _finish_variant(config, out, variant_metadata(config, backend, info["ops_name"], archs))
    strip_runpaths(out)
    from .local import record_digest

    record_digest(out)  # again: stripping runpaths changed the ELF files


def assemble_noarch(kernel_dir: Path, backend: str, unique_id: str, out: Path) -> None:
    from .local import assemble_noarch
    from ..generate.pyproject import validate_unique_id

    config = load_config(kernel_dir)
    out.mkdir(parents=True, exist_ok=True)
    metadata, _ = assemble_noarch(config, backend, validate_unique_id(unique_id), out)
    _finish_variant(config, out, metadata)


def check_variant_dir(variant_dir: Path, variant: str, abi: bool = True, abi_args: Sequence[str] = (),
                      import_check: bool = True, log: Log = print) -> None:
    """The checks a Nix build runs on its output (``variant_dir`` is ``build/<variant>/``).

    * runpaths: no ELF file may keep a DT_RPATH/DT_RUNPATH;
    * layout: ``kernel-builder check-builds`` (metadata, ops namespace,
      compatibility package, no bytecode or build debris) and, unless
      ``import_check`` is off, importing the variant through ``kernels``;
    * ABI: ``kernel-builder check-abi`` with ``abi_args`` (manylinux_2_28 and
      the Python stable ABI by default).
    """
    problems = [f"{path.relative_to(variant_dir)} still has a runpath" for path in elf_files(variant_dir)
                if runpaths(path)]
    if problems:
        raise KernelBuilderError(f"{variant}: {'; '.join(problems)}")
    log(f"runpaths: OK ({variant})")

    with tempfile.TemporaryDirectory(prefix="kernel-builder-check-") as tmp:
        # check-builds checks a build/ directory: give it one holding this variant.
        (Path(tmp) / variant).symlink_to(variant_dir.resolve(), target_is_directory=True)
        from ..check.builds import check_builds

        report = check_builds(Path(tmp), import_check=import_check)
        problems = report.problems + [f"{v.name}: {p}" for v in report.variants for p in v.problems]
        for v in report.variants:
            for note in v.notes:
                log(f"check-builds: {v.name}: {note}")
        if problems:
            raise KernelBuilderError("check-builds: " + "; ".join(problems))
        log(f"check-builds: OK{'' if import_check else ' (import check disabled)'}")

    if abi:
        command = [sys.executable, "-m", "kernel_builder", "check-abi", *abi_args, str(variant_dir)]
        log(f"check-abi: {format_command(command)}")
        if subprocess.run(command).returncode != 0:
            raise KernelBuilderError(f"{variant}: kernel-builder check-abi found problems (see above)")
    else:
        log("check-abi: disabled (doAbiCheck = false)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernel_builder.build.nix_sandbox", description="Steps of kernel-builder's Nix builds.")
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("assemble", help="build/<variant>/ from a CMake install tree")
    p.add_argument("--kernel-dir", type=Path, required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--install-dir", type=Path, required=True)
    p.add_argument("--cmake-build", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("assemble-noarch", help="build/torch-<backend>/ of a Python-only kernel")
    p.add_argument("--kernel-dir", type=Path, required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--unique-id", required=True)
    p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("check", help="check an assembled variant directory")
    p.add_argument("--variant-dir", type=Path, required=True)
    p.add_argument("--variant", required=True, help="the variant's name")
    p.add_argument("--abi-arg", action="append", default=[], help="argument for check-abi (repeatable)")
    p.add_argument("--no-abi", action="store_true")
    p.add_argument("--no-import", action="store_true")
    p = sub.add_parser("strip-runpaths", help="remove DT_RPATH/DT_RUNPATH from the ELF files under a directory")
    p.add_argument("directory", type=Path)
    p = sub.add_parser("digest", help="record the digest of a variant's files in its metadata.json (after fixup)")
    p.add_argument("--variant-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.step == "assemble":
            assemble(args.kernel_dir, args.backend, args.install_dir, args.cmake_build, args.out)
        elif args.step == "assemble-noarch":
            assemble_noarch(args.kernel_dir, args.backend, args.unique_id, args.out)
        elif args.step == "check":
            check_variant_dir(args.variant_dir, args.variant, abi=not args.no_abi, abi_args=args.abi_arg,
                              import_check=not args.no_import)
        elif args.step == "digest":
            from .local import record_digest

            record_digest(args.variant_dir)
        else:
            for path in strip_runpaths(args.directory):
                print(f"stripped runpath: {path}")
    except KernelBuilderError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
