"""Revision and version resolution: which commit a request means, and which build variants it has.

``version=N`` means the branch ``vN``; a revision is a branch, tag or commit
sha. A repository is looked up as a ``kernel`` repository first and as a
``model`` repository (legacy kernels) second. A branch or tag is resolved
once (``HfApi.resolve_revision``, which records it in the cache; if the Hub
cannot be reached, a recorded commit is used).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ..loader import VariantNotFoundError
from ..selection import Decision, VariantAccepted, VariantRejected, decide, environment_summary
from ..variants import is_valid_variant_name
from .cache import cache_dir
from .client import network_errors, request_failed
from .errors import KernelNotCachedError
from .ids import is_commit_sha, version_of_branch

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import HfApi

#: Repository types tried in order: first-class kernel repositories, then legacy model repositories.
REPO_TYPES = ("kernel", "model")


@dataclass(frozen=True)
class HubTarget:
    """A repository revision whose ``build/`` file list is known."""

    repo_id: str
    repo_type: str
    #: As requested; online, a branch or tag is a ``ResolvedRevision`` (a ``str`` that also holds the sha).
    revision: str
    #: None offline before the snapshot is located, and when the listing was asked for without resolving.
    sha: Optional[str]
    build_files: tuple[str, ...]  # paths under build/, relative to the repository root

    @property
    def label(self) -> str:
        return f"{self.repo_id}@{self.revision}"


def cached_build_files(repo_id: str, repo_type: str, revision: str) -> Optional[tuple[str, ...]]:
    """The ``build/`` files of a revision from the cached tree listing, without a request."""
    from huggingface_hub import get_cached_repo_tree
    from huggingface_hub.errors import CachedRepoTreeNotFoundError

    try:
        files = get_cached_repo_tree(repo_id, repo_type=repo_type, revision=revision, cache_dir=cache_dir())
    except (CachedRepoTreeNotFoundError, OSError, ValueError):
        return None
    return tuple(sorted(f.path for f in files if f.path.startswith("build/")))


def available_versions(api: "HfApi", repo_id: str, repo_type: str) -> list[int]:
    refs = api.list_repo_refs(repo_id, repo_type=repo_type)
    return sorted(v for v in (version_of_branch(b.name) for b in refs.branches) if v is not None)


def _cached_target(repo_id: str, revision: str, offline: bool) -> Optional[HubTarget]:
    is_sha = is_commit_sha(revision)
    if is_sha or offline:
        # A commit never changes: its cached listing is as good as the Hub's.
        for repo_type in REPO_TYPES:
            files = cached_build_files(repo_id, repo_type, revision)
            if files is not None:
                return HubTarget(repo_id, repo_type, revision, revision if is_sha else None, files)
        if offline:
            raise KernelNotCachedError(
                f"{repo_id}@{revision} is not in the kernel cache ({cache_dir() or 'Hugging Face cache'}) "
                "and HF_HUB_OFFLINE is set: load it once online first"
            )
    return None


def _listed_target(api: "HfApi", repo_id: str, repo_type: str, revision: str, resolve: bool) -> HubTarget:
    from huggingface_hub import RepoFile
    from huggingface_hub.errors import EntryNotFoundError

    requested: Any = revision
    sha: Optional[str] = revision if is_commit_sha(revision) else None
    if sha is None and resolve:
        requested = api.resolve_revision(repo_id, repo_type=repo_type, revision=revision, cache_dir=cache_dir())
        sha = requested.resolved
    files = cached_build_files(repo_id, repo_type, sha) if sha is not None else None
    if files is None:
        try:
            entries = api.list_repo_tree(repo_id, path_in_repo="build", revision=sha or revision,
                                         repo_type=repo_type, recursive=True)
            files = tuple(sorted(e.path for e in entries if isinstance(e, RepoFile)))
        except EntryNotFoundError:
            files = ()
    return HubTarget(repo_id, repo_type, requested, sha, files)


def locate_revision(api: "HfApi", repo_id: str, revision: str, offline: bool, resolve: bool = True) -> HubTarget:
    """Find the repository type, commit and ``build/`` file list of ``repo_id@revision``.

    A branch or tag is resolved with ``HfApi.resolve_revision``, which also
    records it in the cache (``refs/``) for offline use; the returned
    ``ResolvedRevision`` lets the download skip resolving it again.
    ``resolve=False`` lists the branch or tag as it is, without its sha (one
    request instead of two, for callers that only judge the variants).
    """
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError, RevisionResolutionError

    from .notfound import KernelNotFoundError, KernelRevisionNotFoundError

    cached = _cached_target(repo_id, revision, offline)
    if cached is not None:
        return cached
    not_found: Optional[RepositoryNotFoundError] = None
    for repo_type in REPO_TYPES:
        try:
            return _listed_target(api, repo_id, repo_type, revision, resolve)
        except RepositoryNotFoundError as e:
            not_found = e
            continue
        except RevisionNotFoundError as e:
            message = revision_not_found_message(api, repo_id, repo_type, revision)
            raise KernelRevisionNotFoundError(message, response=e.response) from None
        except RevisionResolutionError as e:  # The Hub could not be reached and nothing is cached.
            cause = e.__cause__ if isinstance(e.__cause__, network_errors()) else e
            raise request_failed(f"looking up {repo_id}@{revision}", api.endpoint, cause) from None
        except network_errors() as e:
            raise request_failed(f"looking up {repo_id}@{revision}", api.endpoint, e) from None
    assert not_found is not None
    raise KernelNotFoundError(
        f"kernel repository {repo_id!r} not found on {api.endpoint} "
        "(it does not exist, or it is private and you are not logged in)", response=not_found.response
    )


def revision_not_found_message(api: "HfApi", repo_id: str, repo_type: str, revision: str) -> str:
    try:
        versions = available_versions(api, repo_id, repo_type)
    except Exception:  # noqa: BLE001 - only used to improve the message
        versions = []
    available = f"available versions: {', '.join(map(str, versions))}" if versions else "it has no vN version branches"
    if version_of_branch(revision) is not None:
        return f"{repo_id} has no version {revision[1:]} (no branch {revision!r}); {available}"
    return f"{repo_id} has no revision {revision!r} (branch, tag or commit sha); {available}"


def variant_files(target: HubTarget) -> dict[str, set[str]]:
    """Variant name -> file paths relative to the variant directory."""
    variants: dict[str, set[str]] = {}
    for path in target.build_files:
        parts = path.split("/")
        if len(parts) >= 3:
            variants.setdefault(parts[1], set()).add("/".join(parts[2:]))
    return variants


def judge_variants(target: HubTarget, backend: Optional[str]) -> list[Decision]:
    """One decision per ``build/<variant>`` of ``target``: accepted ones first, most preferred leading.

    Directories whose names are not variant names are left out, as upstream does.
    """
    problems = {}
    variants = {name: files for name, files in variant_files(target).items() if is_valid_variant_name(name)}
    for name, files in variants.items():
        missing = [f for f in ("__init__.py", "metadata.json") if f not in files]
        if missing:
            problems[name] = f"incomplete build variant: no {' and no '.join(missing)}"
    return decide(list(variants), backend, problems)


def best_variant(target: HubTarget, decisions: list[Decision], backend: Optional[str]) -> str:
    """The most preferred accepted variant, or ``VariantNotFoundError`` listing why each was rejected."""
    accepted = [d for d in decisions if isinstance(d, VariantAccepted)]
    if accepted:
        return accepted[0].variant
    if not decisions:
        raise VariantNotFoundError(f"{target.label} has no build variants (no build/<variant>/ directories)")
    reasons = "; ".join(f"{d.variant}: {d.reason}" for d in decisions if isinstance(d, VariantRejected))
    raise VariantNotFoundError(
        f"{target.label} has no build variant for this environment ({environment_summary(backend)}); {reasons}"
    )
