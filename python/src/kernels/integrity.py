"""Checks a build variant must pass before it is imported: its digest and the kernels version it needs.

The digest is upstream's format: for every file of the variant directory
except the top-level ``metadata.json`` (which holds the digest) and
``metadata.json.sigstore`` (its signature), and except Python bytecode, the
base64 (standard alphabet, padded) hash of its bytes, keyed by its path
relative to the variant with ``/`` separators. A variant whose files do not
match is refused; one without a digest loads with a warning, since its
integrity cannot be verified.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from pathlib import Path
from typing import Optional

from packaging.version import InvalidVersion, Version

from .metadata import Digest, Metadata

logger = logging.getLogger(__name__)

_NOT_HASHED_AT_TOP = ("metadata.json", "metadata.json.sigstore")


class DigestMismatchError(RuntimeError):
    """The files of a variant do not match the digest its metadata.json records."""


class KernelsTooOldError(RuntimeError):
    """A variant needs a newer ``kernels`` than this one (its ``kernels-minver``)."""


def _hashed(relative: str) -> bool:
    parts = relative.split("/")
    if len(parts) == 1 and parts[0] in _NOT_HASHED_AT_TOP:
        return False
    return "__pycache__" not in parts and not relative.endswith(".pyc")


def hash_variant(variant_dir: Path, algorithm: str = "sha256") -> Digest:
    """The digest of the files now in ``variant_dir`` (links to files, as in the Hub cache, are followed)."""
    variant_dir = Path(variant_dir)
    files = {}
    for root, dirs, names in os.walk(variant_dir):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            relative = path.relative_to(variant_dir).as_posix()
            if not _hashed(relative) or not path.is_file():
                continue
            digest = hashlib.new(algorithm, path.read_bytes()).digest()
            files[relative] = base64.b64encode(digest).decode("ascii")
    return Digest(algorithm, files)


def digest_violations(expected: Digest, actual: Digest) -> list[str]:
    """How ``actual`` differs from ``expected``: changed or missing files by path, then unknown files."""
    if expected.algorithm != actual.algorithm:
        return [f"algorithm {actual.algorithm} instead of {expected.algorithm}"]
    problems = []
    for path, value in sorted(expected.files.items()):
        if path not in actual.files:
            problems.append(f"missing file {path}")
        elif actual.files[path] != value:
            problems.append(f"file {path} was modified")
    problems += [f"unknown file {path}" for path in sorted(set(actual.files) - set(expected.files))]
    return problems


def verify_digest(variant_dir: Path, metadata: Metadata) -> bool:
    """Refuse (``DigestMismatchError``) files that differ from the recorded digest; False when none is recorded."""
    if metadata.digest is None:
        return False
    problems = digest_violations(metadata.digest, hash_variant(variant_dir, metadata.digest.algorithm))
    if problems:
        raise DigestMismatchError(
            f"{Path(variant_dir) / 'metadata.json'}: the files of the variant do not match its digest "
            f"({'; '.join(problems)}); they may have been modified"
        )
    return True


def installed_kernels_version() -> Optional[Version]:
    """This package's release version (pre/dev suffixes dropped); None if it cannot be compared."""
    from . import __version__

    try:
        return Version(".".join(str(p) for p in Version(__version__).release))
    except InvalidVersion:
        return None


def check_kernels_minver(variant_dir: Path, metadata: Metadata) -> None:
    """Refuse a variant whose ``kernels-minver`` is newer than this package."""
    if metadata.kernels_minver is None:
        return
    from . import __version__

    installed = installed_kernels_version()
    if installed is not None and installed < Version(metadata.kernels_minver):
        raise KernelsTooOldError(
            f"{Path(variant_dir) / 'metadata.json'}: kernel '{metadata.name}' variant '{Path(variant_dir).name}' "
            f"requires kernels>={metadata.kernels_minver}, but version {__version__} is installed"
        )


def check_variant(variant_dir: Path, metadata: Metadata) -> None:
    """Every check before import: kernels version, digest (warning without one), dirty provenance (warning)."""
    label = f"Kernel '{metadata.name}' variant '{Path(variant_dir).name}'"
    check_kernels_minver(variant_dir, metadata)
    if not verify_digest(variant_dir, metadata):
        logger.warning("%s: the metadata does not record a digest, so its integrity cannot be verified", label)
    if metadata.provenance is not None and metadata.provenance.dirty:
        sources = [what for what, git in (("kernel source", metadata.provenance.kernel),
                                          ("kernel-builder", metadata.provenance.builder_git))
                   if git is not None and git.dirty]
        logger.warning("%s was built from a dirty git tree (%s had uncommitted changes); its recorded revision "
                       "does not fully identify its sources", label, ", ".join(sources))
