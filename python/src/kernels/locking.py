"""Locking kernel versions: ``kernels lock``, ``kernels download``, :func:`load_kernel` and :func:`get_locked_kernel`.

A project lists the kernels it uses in ``pyproject.toml``::

    [tool.kernels.dependencies]
    "kernels-community/relu" = 1

``kernels lock <project_dir>`` resolves every entry to the commit of its
``vN`` branch and writes ``kernels.lock`` (see :mod:`kernels.lockfile`) with
a ``git_lfs_concat`` hash per build variant (:func:`git_lfs_concat`, defined
in ``docs/locking.md``). ``kernels download <project_dir>`` fetches each
locked commit into the kernel cache and checks the downloaded files against
those hashes; a variant that does not match is deleted again.

Loading a locked kernel (:func:`load_kernel`, :func:`get_locked_kernel`)
checks the cached files against the lock file's hash before importing them.
The lock file is the project's pin of exact, hashed content, so no publisher
check is made for it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Optional, Union

from .hub.errors import KernelsHubError
from .lockfile import (
    LOCKFILE_NAME,
    KernelLock,
    LockfileError,
    dump_lockfile,
    find_lock,
    parse_lockfile,
    read_lockfile,
)

#: The only hash type written and understood.
HASH_TYPE = "git_lfs_concat"


class LockError(KernelsHubError, ValueError):
    """A project, its dependencies or its lock file cannot be used for locking."""


class LockHashMismatchError(LockError):
    """Files of a locked kernel do not match the hash recorded in ``kernels.lock``."""


class KernelNotPreDownloadedError(KernelsHubError, FileNotFoundError):
    """:func:`load_kernel` found the locked kernel not (completely) in the cache."""


# ---------------------------------------------------------------------------
# The git_lfs_concat hash
# ---------------------------------------------------------------------------


def git_blob_oid(data: bytes) -> str:
    """The git blob object id of ``data`` (SHA-1 of ``blob <size>\\0<data>``), as the Hub lists for non-LFS files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def git_lfs_concat(files: Iterable[tuple[str, str]]) -> str:
    """The ``git_lfs_concat`` hash of a variant's ``(path, oid)`` pairs.

    ``path`` is relative to ``build/<variant>/`` with ``/`` separators; ``oid``
    is the LFS SHA-256 of an LFS file or the git blob oid of any other file,
    lowercase hex. SHA-256 over, for every file in order of its path (as
    UTF-8 bytes), the UTF-8 path followed by the ASCII oid; written as
    ``sha256-<hex>``.
    """
    digest = hashlib.sha256()
    for path, oid in sorted(files, key=lambda item: item[0].encode("utf-8")):
        digest.update(path.encode("utf-8"))
        digest.update(oid.lower().encode("ascii"))
    return f"sha256-{digest.hexdigest()}"


def _lfs_sha256(entry: Any) -> Optional[str]:
    lfs = getattr(entry, "lfs", None)
    if lfs is None:
        return None
    return lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)


def never_downloaded(path: str) -> bool:
    """Whether the Hub file at ``path`` is one the loaders never download (bytecode)."""
    from fnmatch import fnmatchcase

    from .hub import NEVER_DOWNLOADED

    return any(fnmatchcase(path, pattern) for pattern in NEVER_DOWNLOADED)


def _variant_entries(entries: Iterable[Any]) -> dict[str, dict[str, tuple[str, bool]]]:
    """Variant -> {path in the variant: (oid, is LFS)} of the ``RepoFile`` entries under ``build/``."""
    variants: dict[str, dict[str, tuple[str, bool]]] = {}
    for entry in entries:
        parts = entry.path.split("/")
        if len(parts) < 3 or parts[0] != "build" or not hasattr(entry, "blob_id") or never_downloaded(entry.path):
            continue  # Bytecode is never downloaded (nor run), so it is not part of what a lock pins.
        lfs = _lfs_sha256(entry)
        oid = lfs or entry.blob_id
        if not oid:
            raise LockError(f"the Hub listed no object id for {entry.path}")
        variants.setdefault(parts[1], {})["/".join(parts[2:])] = (oid, lfs is not None)
    return variants


def _local_hash(variant_dir: Path, files: dict[str, tuple[str, bool]]) -> tuple[str, list[str]]:
    """The ``git_lfs_concat`` hash of the files as they are on disk, and the problems found on the way."""
    problems: list[str] = []
    pairs = []
    for rel, (_, is_lfs) in files.items():
        path = variant_dir / rel
        try:
            data = path.read_bytes()
        except OSError:
            problems.append(f"{rel} is missing")
            continue
        pairs.append((rel, hashlib.sha256(data).hexdigest() if is_lfs else git_blob_oid(data)))
    if variant_dir.is_dir():
        for path in sorted(variant_dir.rglob("*")):
            rel = path.relative_to(variant_dir).as_posix()
            if path.is_dir() and not path.is_symlink():
                continue
            # Bytecode too: a locked load runs only hashed bytes.
            if rel not in files:
                problems.append(f"{rel} is not part of the locked commit")
    return git_lfs_concat(pairs), problems


def _remove_variant(variant_dir: Path) -> None:
    """Delete a variant from the cache (links as links, blobs only inside the cache)."""
    from .hub import remove_cached_variant

    try:
        remove_cached_variant(variant_dir)
    except OSError:
        pass  # What could not be removed is caught again by the next verification.


def _verify(lock: KernelLock, variant: str, variant_dir: Path, files: dict[str, tuple[str, bool]]) -> None:
    expected = lock.variants[variant]
    if expected.get("hash_type") != HASH_TYPE:
        raise LockError(f"{lock.repo_id}@{lock.sha}: variant {variant} has unsupported hash_type "
                        f"{expected.get('hash_type')!r} (expected {HASH_TYPE!r})")
    actual, problems = _local_hash(variant_dir, files)
    if actual != expected["hash"] or problems:
        _remove_variant(variant_dir)
        detail = "; ".join(problems) if problems else f"expected {expected['hash']}, got {actual}"
        raise LockHashMismatchError(
            f"{lock.repo_id}@{lock.sha}: build/{variant} does not match its hash in {LOCKFILE_NAME} ({detail}); "
            "the cached files were deleted"
        )


# ---------------------------------------------------------------------------
# Projects
# ---------------------------------------------------------------------------


def _load_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python < 3.11
        try:
            import tomli as tomllib
        except ImportError:
            raise LockError("reading pyproject.toml on Python < 3.11 needs the 'tomli' package") from None
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise LockError(f"cannot read {path} ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise LockError(f"{path}: invalid TOML ({e})") from None


def read_dependencies(project_dir: Union[str, Path]) -> dict[str, int]:
    """``[tool.kernels.dependencies]`` of the project: repository id -> major version."""
    from .hub import validate_repo_id

    pyproject = Path(project_dir) / "pyproject.toml"
    if not pyproject.is_file():
        raise LockError(f"{pyproject} not found: {project_dir} is not a Python project")
    deps = _load_toml(pyproject).get("tool", {}).get("kernels", {}).get("dependencies")
    if deps is None:
        raise LockError(f"{pyproject} has no [tool.kernels.dependencies] table")
    if not isinstance(deps, dict):
        raise LockError(f"{pyproject}: tool.kernels.dependencies must be a table")
    for repo_id, version in deps.items():
        try:
            validate_repo_id(repo_id)
        except ValueError as e:
            raise LockError(f"{pyproject}: [tool.kernels.dependencies]: {e}") from None
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            raise LockError(f"{pyproject}: [tool.kernels.dependencies]: {repo_id!r} must be a major version "
                            f"(a non-negative integer), got {version!r}")
    return dict(deps)


def _api_and_check_online(what: str) -> Any:
    from .hub import KernelNotCachedError, hub_client, is_offline

    if is_offline():
        raise KernelNotCachedError(f"{what} needs the Hub, but HF_HUB_OFFLINE is set")
    return hub_client()


def lock_kernel(repo_id: str, version: int, api: Any = None) -> KernelLock:
    """Resolve ``repo_id`` version ``version`` (branch ``vN``) to its commit and hash its build variants."""
    from .hub import locate_revision, network_errors, request_failed
    from .variants import is_valid_variant_name

    api = api if api is not None else _api_and_check_online("locking kernels")
    target = locate_revision(api, repo_id, f"v{version}", offline=False)
    assert target.sha is not None
    try:
        entries = list(api.list_repo_tree(repo_id, path_in_repo="build", revision=target.sha,
                                          repo_type=target.repo_type, recursive=True))
    except network_errors() as e:
        raise request_failed(f"listing {repo_id}@{target.sha}", api.endpoint, e) from None
    variants = {
        name: {"hash": git_lfs_concat((rel, oid) for rel, (oid, _) in files.items()), "hash_type": HASH_TYPE}
        for name, files in _variant_entries(entries).items() if is_valid_variant_name(name)
    }
    if not variants:
        raise LockError(f"{repo_id} version {version} ({target.sha}) has no build variants")
    return KernelLock(repo_id=repo_id, sha=target.sha, variants=variants)


def lock_project(project_dir: Union[str, Path]) -> tuple[Path, list[KernelLock]]:
    """Write ``<project_dir>/kernels.lock`` for the project's kernel dependencies; returns it and its entries."""
    deps = read_dependencies(project_dir)
    api = _api_and_check_online("locking kernels")
    locks = [lock_kernel(repo_id, version, api) for repo_id, version in sorted(deps.items())]
    path = Path(project_dir) / LOCKFILE_NAME
    tmp = path.with_name(f".{LOCKFILE_NAME}.tmp")
    tmp.write_text(dump_lockfile(locks), encoding="utf-8")
    os.replace(tmp, path)
    return path, locks


def read_project_lock(project_dir: Union[str, Path]) -> list[KernelLock]:
    path = Path(project_dir) / LOCKFILE_NAME
    try:
        return read_lockfile(path)
    except FileNotFoundError:
        raise LockError(f"{path} not found: run `kernels lock {project_dir}` first") from None
    except OSError as e:
        raise LockError(f"cannot read {path} ({e.strerror})") from None


def _cached_variant_entries(lock: KernelLock, repo_type: str) -> dict[str, dict[str, tuple[str, bool]]]:
    from huggingface_hub import get_cached_repo_tree
    from huggingface_hub.errors import CachedRepoTreeNotFoundError

    from .hub import cache_dir

    try:
        entries = get_cached_repo_tree(lock.repo_id, repo_type=repo_type, revision=lock.sha, cache_dir=cache_dir())
    except (CachedRepoTreeNotFoundError, OSError, ValueError):
        raise KernelNotPreDownloadedError(f"{lock.repo_id}@{lock.sha}: no cached file listing") from None
    return _variant_entries(entries)


def _locked_variants(lock: KernelLock, target: Any, backend: Optional[str]) -> list[str]:
    """Locked variants this environment accepts, most preferred first."""
    from .hub import judge_variants
    from .selection import VariantAccepted, environment_summary

    accepted = [d.variant for d in judge_variants(target, backend) if isinstance(d, VariantAccepted)]
    if lock.variants:
        accepted = [v for v in accepted if v in lock.variants]
    if not accepted:
        raise LockError(f"{lock.repo_id}@{lock.sha}: no locked build variant for this environment "
                        f"({environment_summary(backend)}); locked: {', '.join(sorted(lock.variants)) or 'none'}")
    return accepted


def download_project(project_dir: Union[str, Path], all_variants: bool = False,
                     backend: Optional[str] = None) -> list[tuple[str, str, list[str]]]:
    """Fetch every kernel of ``<project_dir>/kernels.lock`` at its commit and verify the variants' hashes.

    Returns ``(repo_id, sha, variants)`` per kernel. A variant whose files do
    not match the lock is deleted from the cache and :class:`LockHashMismatchError` raised.
    """
    from .hub import (
        NEVER_DOWNLOADED,
        KernelDownloadError,
        cache_dir,
        ensure_cache_usable,
        is_timeout,
        locate_revision,
        network_errors,
        request_failed,
    )
    from .variants import current_environment

    locks = read_project_lock(project_dir)
    api = _api_and_check_online("downloading locked kernels")
    ensure_cache_usable()
    if not all_variants:
        current_environment(backend)
    done = []
    for lock in locks:
        target = locate_revision(api, lock.repo_id, lock.sha, offline=False)
        if all_variants:
            variants = sorted(lock.variants)
            if not variants:
                raise LockError(f"{lock.repo_id}@{lock.sha}: {LOCKFILE_NAME} locks no variants")
        else:
            variants = _locked_variants(lock, target, backend)[:1]
        try:
            snapshot = Path(str(api.snapshot_download(
                lock.repo_id, repo_type=target.repo_type, revision=lock.sha,
                allow_patterns=[f"build/{v}/*" for v in variants], ignore_patterns=list(NEVER_DOWNLOADED),
                cache_dir=cache_dir(),
            )))
        except network_errors() as e:
            if is_timeout(e):
                raise request_failed(f"{lock.repo_id}@{lock.sha}: download failed", api.endpoint, e) from None
            raise KernelDownloadError(f"{lock.repo_id}@{lock.sha}: download failed: {' '.join(str(e).split())}") \
                from None
        listed = _cached_variant_entries(lock, target.repo_type)
        for variant in variants:
            if variant not in lock.variants:
                continue  # A hand-written lock without hashes pins the commit only.
            _verify(lock, variant, snapshot / "build" / variant, listed.get(variant, {}))
        done.append((lock.repo_id, lock.sha, variants))
    return done


# ---------------------------------------------------------------------------
# Loading locked kernels
# ---------------------------------------------------------------------------


def _caller_lock(repo_id: str, package: Optional[str]) -> KernelLock:
    """The entry of ``repo_id`` in the ``kernels.lock`` metadata of the distribution(s) providing ``package``."""
    searched = []
    if package is not None:
        for dist_name in dict.fromkeys(importlib.metadata.packages_distributions().get(package, [])):
            try:
                dist = importlib.metadata.distribution(dist_name)
            except importlib.metadata.PackageNotFoundError:
                continue
            searched.append(dist_name)
            source = f"{LOCKFILE_NAME} of distribution {dist_name!r}"
            try:
                text = dist.read_text(LOCKFILE_NAME)
            except UnicodeDecodeError as e:
                raise LockfileError(f"{source}: not UTF-8 text (invalid byte at offset {e.start})") from None
            if text is not None:
                lock = find_lock(parse_lockfile(text, source), repo_id)
                if lock is not None:
                    return lock
    if searched:
        where = f"the {LOCKFILE_NAME} of distribution(s) {', '.join(searched)}"
    elif package:
        where = f"an installed distribution providing package `{package}`"
    else:
        where = "an installed distribution"
    raise LockError(f"`{repo_id}` is not locked: no entry in {where}. Run `kernels lock` in the project and "
                    f"reinstall it, or pass lockfile=<path to {LOCKFILE_NAME}>")


def _explicit_lock(repo_id: str, lockfile: Union[str, Path]) -> KernelLock:
    path = Path(lockfile)
    try:
        locks = read_lockfile(path)
    except OSError as e:
        raise FileNotFoundError(f"cannot read lock file {path} ({e.strerror})") from None
    lock = find_lock(locks, repo_id)
    if lock is None:
        raise LockError(f"`{repo_id}` is not locked in {path}")
    return lock


def caller_package() -> Optional[str]:
    """Top-level package of the first caller outside ``kernels``: whose installed metadata holds its lock."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name != "kernels" and not name.startswith("kernels."):
            return name.split(".")[0] or None
        frame = frame.f_back
    return None


def find_kernel_lock(repo_id: str, lockfile: Optional[Union[str, Path]], package: Optional[str]) -> KernelLock:
    """The lock of ``repo_id``: from ``lockfile``, or else from the ``kernels.lock`` metadata of ``package``."""
    if lockfile is not None:
        return _explicit_lock(repo_id, lockfile)
    return _caller_lock(repo_id, package)


def _find_lock(repo_id: str, lockfile: Optional[Union[str, Path]]) -> KernelLock:
    from .hub import validate_repo_id

    validate_repo_id(repo_id)
    return find_kernel_lock(repo_id, lockfile, caller_package())


def load_locked(lock: KernelLock, backend: Optional[str], offline: bool, pre_downloaded: bool) -> ModuleType:
    """Import the locked commit (downloading it unless ``offline``), after checking its files against the lock."""
    from .hub import (
        KernelNotCachedError,
        download_variant,
        ensure_cache_usable,
        hub_client,
        locate_revision,
        validated_variant,
    )
    from .loader import RepoInfo, import_variant
    from .variants import current_environment

    env = current_environment(backend)
    api = hub_client(None, backend)
    hint = "run `kernels download <project_dir>` first"
    ensure_cache_usable(writable=not offline)
    try:
        target = locate_revision(api, lock.repo_id, lock.sha, offline)
        variant = _locked_variants(lock, target, backend)[0]
        snapshot, _ = download_variant(api, target, variant, offline)
    except KernelNotCachedError as e:
        if pre_downloaded:
            raise KernelNotPreDownloadedError(f"{lock.repo_id}@{lock.sha} is not pre-downloaded ({e}); {hint}") \
                from None
        raise
    variant_dir = snapshot / "build" / variant
    if variant in lock.variants:
        _verify(lock, variant, variant_dir, _cached_variant_entries(lock, target.repo_type).get(variant, {}))
    validated_variant(target, variant_dir)
    return import_variant(variant_dir, RepoInfo(repo_id=lock.repo_id, revision=lock.sha), backend=env.backend)


def load_kernel(repo_id: str, lockfile: Optional[Union[str, Path]] = None,
                backend: Optional[str] = None, *, check_arch: bool = True) -> ModuleType:
    """Import a locked kernel that ``kernels download`` put in the cache; never contacts the Hub.

    The lock is read from ``lockfile`` or else from the ``kernels.lock`` in the
    installed metadata of the caller's top-level package. Raises
    :class:`KernelNotPreDownloadedError` when the locked variant is not cached
    and :class:`LockHashMismatchError` when the cached files do not match the lock.
    """
    return load_locked(_find_lock(repo_id, lockfile), backend, offline=True, pre_downloaded=True)


def get_locked_kernel(repo_id: str, local_files_only: bool = False, *, lockfile: Optional[Union[str, Path]] = None,
                      trust_remote_code: Union[bool, list] = False, user_agent: Union[str, dict, None] = None,
                      check_arch: bool = True) -> ModuleType:
    """Import ``repo_id`` at the commit locked in ``lockfile`` (default: the caller's package metadata).

    Downloads it if needed. The lock names the exact commit and its hashes, so
    the lock's author already chose what runs: ``trust_remote_code``,
    ``user_agent`` and ``check_arch`` are accepted as upstream's signature has them.
    """
    from .hub import is_offline

    lock = _find_lock(repo_id, lockfile)
    return load_locked(lock, None, offline=local_files_only or is_offline(), pre_downloaded=False)


# ---------------------------------------------------------------------------
# setuptools: carry kernels.lock into the package metadata
# ---------------------------------------------------------------------------


def write_egg_info_lockfile(cmd: Any, basename: str, filename: str) -> None:
    """``egg_info.writers`` hook: copy the project's ``kernels.lock`` into ``*.egg-info`` (and so the wheel)."""
    lock = Path(LOCKFILE_NAME)
    text = lock.read_text(encoding="utf-8") if lock.is_file() else ""
    if text:
        try:
            parse_lockfile(text, str(lock.resolve()))
        except LockfileError as e:
            raise LockError(str(e)) from None
    # Empty text deletes a stale copy of a lock file that no longer exists.
    cmd.write_or_delete_file("kernels lock file", filename, text)
