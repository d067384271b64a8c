"""Load kernels by Hub repository id: :func:`get_kernel`, :func:`get_kernel_variants`, :func:`has_kernel`.

1. The revision is resolved and the files under ``build/`` at that commit
   are listed (:mod:`kernels.hub.resolve`); every variant is judged against
   this environment.
2. The publisher is checked (:mod:`kernels.hub.trust`) before anything is
   downloaded.
3. Only the most preferred compatible variant, ``build/<variant>/*``, is
   downloaded into the cache (``KERNELS_CACHE`` or the Hugging Face cache)
   and imported; :func:`~kernels.get_loaded_kernels` records its
   :class:`~kernels.RepoInfo` with the resolved commit sha.

A commit sha never changes, so once its files and its tree listing are in the
cache, loading it makes no network request at all; ``HF_HUB_OFFLINE=1``
loads any cached revision (branch, tag or sha) without a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Optional, Union

from ..loader import RepoInfo, VariantNotFoundError, find_local_variant, get_local_kernel, import_variant
from ..local_kernels import local_kernel_path
from ..selection import Decision, VariantAccepted, decide
from ..variants import current_environment, is_valid_variant_name
from .cache import download_variant, ensure_cache_usable, validated_variant
from .client import hub_client, is_offline, network_errors, request_failed
from .errors import KernelDownloadError, KernelNotCachedError
from .ids import check_revision_args, require_revision, validate_repo_id, version_of_branch
from .resolve import REPO_TYPES, HubTarget, best_variant, judge_variants, locate_revision
from .trust import TrustRemoteCode, check_published_revision, check_trusted_publisher, is_allow_listed


def locate_redirected(api, target: HubTarget, offline: bool, resolve: bool = True) -> HubTarget:
    """``target``, or the revision its ``kernel-status.toml`` redirects to (one hop, with a warning).

    Only a revision without build variants is checked for a status: a moved
    kernel leaves no builds behind, and every other load saves the request.
    """
    from ..status import resolve_status

    if target.build_files:
        return target
    asked = str(target.sha or target.revision)
    destination, revision = resolve_status(api, target.repo_id, asked)
    if (destination, revision) == (target.repo_id, asked):
        return target
    validate_repo_id(destination)
    return locate_revision(api, destination, revision, offline, resolve=resolve)


def fetch_variant(repo_id: str, revision: str, backend: Optional[str], user_agent: Union[str, dict, None],
                  trust_remote_code: TrustRemoteCode, offline: Optional[bool] = None) -> tuple[HubTarget, Path]:
    """Locate, trust-check and download the variant to load; returns it with its resolved target.

    ``offline`` (default: ``HF_HUB_OFFLINE``) uses the cache only, as ``local_files_only`` does.
    """
    offline = is_offline() if offline is None else offline or is_offline()
    api = hub_client(user_agent, backend)
    current_environment(backend)  # Validates the backend before any request.
    ensure_cache_usable(writable=not offline)
    target = locate_redirected(api, locate_revision(api, repo_id, revision, offline), offline)
    repo_id, revision = target.repo_id, target.revision
    check_trusted_publisher(api, repo_id, trust_remote_code, offline)
    if not is_allow_listed(repo_id, trust_remote_code):
        check_published_revision(api, target, revision, offline)
    for _ in range(3):
        variant = best_variant(target, judge_variants(target, backend), backend)
        snapshot, sha = download_variant(api, target, variant, offline)
        if target.sha is None or sha == target.sha:
            break
        # The branch moved between listing and downloading: judge the new commit.
        moved = locate_revision(api, repo_id, sha, offline)
        target = HubTarget(repo_id, moved.repo_type, revision, sha, moved.build_files)
    else:
        raise KernelDownloadError(f"{repo_id}@{revision} keeps moving while it is downloaded; try again")
    target = HubTarget(target.repo_id, target.repo_type, target.revision, sha, target.build_files)
    return target, validated_variant(target, snapshot / "build" / variant)


def get_kernel(
    repo_id: str,
    revision: Optional[str] = None,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    user_agent: Union[str, dict, None] = None,
    trust_remote_code: Union[bool, list[str]] = False,
    check_arch: bool = True,
) -> ModuleType:
    """Load the kernel in ``repo_id`` for this environment.

    Exactly one of ``version`` (a major version, i.e. the ``v<version>``
    branch) and ``revision`` (a branch, tag or commit sha) selects what to
    load from the Hub. ``backend`` may be ``cpu`` or the backend Torch was
    built for. Kernels from publishers that the Hub does not mark as trusted
    need ``trust_remote_code=True``, or a list of repository ids naming them.
    ``check_arch`` is accepted as upstream does; variant choice here never
    refuses a build for the device's compute capability, so it changes nothing.
    """
    check_revision_args(revision, version)
    local_path = local_kernel_path(repo_id)
    if local_path is not None:
        return get_local_kernel(local_path, backend)
    validate_repo_id(repo_id)
    rev = require_revision(repo_id, revision, version)
    target, variant_dir = fetch_variant(repo_id, rev, backend, user_agent,
                                        False if trust_remote_code is None else trust_remote_code)
    assert target.sha is not None
    return import_variant(variant_dir, RepoInfo(repo_id=target.repo_id, revision=target.sha),
                          backend=current_environment(backend).backend)


def get_kernel_variants(
    repo_id: str,
    revision: Optional[str] = None,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    user_agent: Union[str, dict, None] = None,
) -> list[Decision]:
    """Judge every build variant of ``repo_id`` against this environment.

    Returns one :class:`~kernels.VariantAccepted` or
    :class:`~kernels.VariantRejected` per variant, compatible variants first
    with the most preferred leading. Nothing is downloaded.
    """
    check_revision_args(revision, version)
    local_path = local_kernel_path(repo_id)
    if local_path is not None:
        build = local_path / "build" if (local_path / "build").is_dir() else local_path
        names = [p.name for p in build.iterdir() if p.is_dir()] if build.is_dir() else []
        return decide([n for n in names if is_valid_variant_name(n)], backend)
    validate_repo_id(repo_id)
    rev = require_revision(repo_id, revision, version)
    current_environment(backend)
    api = hub_client(user_agent, backend)
    # Only the file list matters here, so a branch or tag is listed without resolving its sha first.
    target = locate_redirected(api, locate_revision(api, repo_id, rev, is_offline(), resolve=False),
                               is_offline(), resolve=False)
    return judge_variants(target, backend)


def has_kernel(
    repo_id: str,
    revision: Optional[str] = None,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    user_agent: Union[str, dict, None] = None,
    *,
    trust_remote_code: Union[bool, list[str]] = False,
    check_arch: bool = True,
) -> bool:
    """Whether ``repo_id`` has a build variant this environment can load.

    A repository, version or revision that does not exist has no kernel
    either (``False``); invalid arguments still raise, and so does a kernel
    :func:`get_kernel` would refuse to load (an untrusted publisher), with
    the same error. ``check_arch`` as for :func:`get_kernel`.
    """
    from .notfound import KernelNotFoundError, KernelRevisionNotFoundError

    check_revision_args(revision, version)
    local_path = local_kernel_path(repo_id)
    if local_path is not None:
        try:
            find_local_variant(local_path, backend)
        except (FileNotFoundError, VariantNotFoundError):
            return False
        return True
    is_allow_listed(repo_id, trust_remote_code)  # Validates the argument before any request.
    try:
        decisions = get_kernel_variants(repo_id, revision, version, backend, user_agent)
    except (KernelNotFoundError, KernelRevisionNotFoundError, KernelNotCachedError):
        return False
    if not any(isinstance(d, VariantAccepted) for d in decisions):
        return False
    check_trusted_publisher(hub_client(user_agent, backend), repo_id, trust_remote_code, is_offline())
    return True


@dataclass(frozen=True)
class KernelVersion:
    """One ``vN`` branch of a kernel repository and how its variants fare here."""

    version: int
    commit: str
    decisions: tuple[Decision, ...]

    @property
    def preferred(self) -> Optional[str]:
        for decision in self.decisions:
            if isinstance(decision, VariantAccepted):
                return decision.variant
        return None


def _version_variants(api, repo_id: str, repo_type: str, commit: str, backend: Optional[str]) -> list[Decision]:
    from huggingface_hub import RepoFolder
    from huggingface_hub.errors import EntryNotFoundError

    try:
        entries = api.list_repo_tree(repo_id, path_in_repo="build", revision=commit, repo_type=repo_type)
        names = [e.path.split("/")[-1] for e in entries if isinstance(e, RepoFolder)]
    except EntryNotFoundError:
        names = []
    except network_errors() as e:
        raise request_failed(f"listing the versions of {repo_id}", api.endpoint, e) from None
    return decide([n for n in names if is_valid_variant_name(n)], backend)


def list_kernel_versions(repo_id: str, backend: Optional[str] = None,
                         user_agent: Union[str, dict, None] = None) -> list[KernelVersion]:
    """Every version (``vN`` branch) of ``repo_id``, oldest first, with its variant decisions."""
    from huggingface_hub.errors import RepositoryNotFoundError

    from .notfound import KernelNotFoundError

    validate_repo_id(repo_id)
    if is_offline():
        raise KernelNotCachedError("listing versions needs the Hub, but HF_HUB_OFFLINE is set")
    current_environment(backend)
    api = hub_client(user_agent, backend)
    not_found: Optional[RepositoryNotFoundError] = None
    for repo_type in REPO_TYPES:
        try:
            refs = api.list_repo_refs(repo_id, repo_type=repo_type)
        except RepositoryNotFoundError as e:
            not_found = e
            continue
        except network_errors() as e:
            raise request_failed(f"listing the versions of {repo_id}", api.endpoint, e) from None
        branches = sorted((version_of_branch(b.name), b.target_commit) for b in refs.branches
                          if version_of_branch(b.name) is not None)
        return [KernelVersion(number, commit, tuple(_version_variants(api, repo_id, repo_type, commit, backend)))
                for number, commit in branches]
    raise KernelNotFoundError(f"kernel repository {repo_id!r} not found on {api.endpoint}",
                              response=not_found.response if not_found is not None else None)
