"""Load kernels by Hub repository id.

Repositories mapped by ``LOCAL_KERNELS`` are loaded from their local path;
all others come from the Hub, through ``huggingface_hub`` (imported lazily so
that ``import kernels`` stays fast):

1. ``version=N`` means the branch ``vN``; a ``revision`` is a branch, tag or
   commit sha. The repository is looked up as a ``kernel`` repository first
   and as a ``model`` repository (legacy kernels) second. A branch or tag is
   resolved once (``HfApi.resolve_revision``, which records it in the cache;
   if the Hub cannot be reached, a recorded commit is used).
2. The files under ``build/`` at that commit are listed and every variant is
   judged against this environment (:func:`get_kernel_variants`).
3. Only the most preferred compatible variant, ``build/<variant>/*``, is
   downloaded into the cache (``KERNELS_CACHE`` or the Hugging Face cache).
4. The publisher is checked (see :func:`check_trusted_publisher`) and the
   variant is imported; :func:`~kernels.get_loaded_kernels` records its
   :class:`~kernels.RepoInfo` with the resolved commit sha.

A commit sha never changes, so once its files and its tree listing are in the
cache, loading it makes no network request at all; ``HF_HUB_OFFLINE=1``
loads any cached revision (branch, tag or sha) without a request.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional, Union

from .loader import RepoInfo, VariantNotFoundError, find_local_variant, get_local_kernel, import_variant
from .local_kernels import local_kernel_path
from .metadata import Metadata, MetadataError
from .selection import Decision, VariantAccepted, VariantRejected, decide, environment_summary
from .variants import current_environment, is_valid_variant_name

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import HfApi

KERNELS_CACHE_ENV = "KERNELS_CACHE"
#: Repository types tried in order: first-class kernel repositories, then legacy model repositories.
REPO_TYPES = ("kernel", "model")
#: How long a positive publisher-trust answer from the Hub is reused without asking again.
TRUST_TTL_SECONDS = 24 * 60 * 60

_SHA = re.compile(r"^[0-9a-f]{40}$")
_TRUE = {"1", "ON", "YES", "TRUE"}


class KernelNotFoundError(LookupError):
    """The repository does not exist on the Hub (or is private and not accessible)."""


class KernelRevisionNotFoundError(LookupError):
    """The repository exists, but not the requested version or revision."""


class UntrustedPublisherError(ValueError):
    """The kernel's publisher is not trusted and ``trust_remote_code=True`` was not given."""


class KernelNotCachedError(FileNotFoundError):
    """Offline mode is on and the kernel is not (completely) in the cache."""


class HubRequestError(OSError):
    """The Hub could not be reached or answered with an unexpected error."""


class KernelDownloadError(HubRequestError):
    """Downloading the kernel's files failed."""


@dataclass(frozen=True)
class _Target:
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


# ---------------------------------------------------------------------------
# Arguments and environment
# ---------------------------------------------------------------------------


def _check_revision_args(revision: Optional[str], version: Optional[int]) -> None:
    if revision is not None and version is not None:
        raise ValueError("pass either 'revision' or 'version', not both")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 0):
        raise ValueError(f"'version' must be a non-negative integer, got {version!r}")
    if revision is not None and (not isinstance(revision, str) or not revision):
        raise ValueError(f"'revision' must be a non-empty string, got {revision!r}")


def _require_revision(repo_id: str, revision: Optional[str], version: Optional[int]) -> str:
    if revision is None and version is None:
        raise ValueError(f"loading {repo_id!r} from the Hub needs a 'version' or a 'revision'")
    return revision if revision is not None else f"v{version}"


def _check_repo_id(repo_id: str) -> None:
    if not isinstance(repo_id, str) or not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*", repo_id):
        raise ValueError(f"expected a Hub repository id like 'org/name', got {repo_id!r}")


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").upper() in _TRUE


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or _env_true("HF_HUB_OFFLINE")


def _telemetry_disabled() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_DISABLE_TELEMETRY) or any(
        _env_true(name) for name in ("HF_HUB_DISABLE_TELEMETRY", "DISABLE_TELEMETRY", "DO_NOT_TRACK")
    )


def cache_dir() -> Optional[str]:
    """The kernel cache: ``KERNELS_CACHE`` if set, else ``None`` (the Hugging Face cache)."""
    return os.environ.get(KERNELS_CACHE_ENV) or None


def user_agent_string(user_agent: Union[str, dict, None] = None, backend: Optional[str] = None) -> Optional[str]:
    """What ``kernels`` adds to the Hub user agent; ``None`` when telemetry is disabled.

    huggingface_hub itself puts ``kernels/<version>`` (the library), its own
    version and the Python and Torch versions in front of it.
    """
    if _telemetry_disabled():
        return None
    parts: list[str] = []
    if isinstance(user_agent, dict):
        parts += [f"{key}/{value}" for key, value in user_agent.items()]
    elif isinstance(user_agent, str) and user_agent:
        parts.append(user_agent)
    try:
        env = current_environment(backend)
        parts += [f"backend/{env.backend}", f"compute/{env.compute}", f"platform/{env.arch}-{env.os}"]
    except (ImportError, ValueError):
        parts.append(f"platform/{platform.machine().lower()}-{sys.platform}")
    parts.append("file_type/kernel")
    return "; ".join(parts)


def _api(user_agent: Union[str, dict, None] = None, backend: Optional[str] = None) -> "HfApi":
    from huggingface_hub import HfApi

    agent = user_agent_string(user_agent, backend)
    if agent is None:  # Telemetry off: only what huggingface_hub always sends.
        return HfApi()
    from . import __version__

    return HfApi(library_name="kernels", library_version=__version__, user_agent=agent)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _network_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the Hub request failed" (HTTP errors, unreachable host)."""
    from huggingface_hub.errors import HfHubHTTPError

    errors: tuple[type[BaseException], ...] = (HfHubHTTPError, OSError)
    try:
        import httpx2  # huggingface_hub's HTTP client

        errors += (httpx2.HTTPError,)
    except ImportError:  # pragma: no cover - other huggingface_hub releases
        pass
    return errors


def _request_failed(what: str, endpoint: str, error: BaseException) -> HubRequestError:
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(error, HfHubHTTPError) and error.response is not None:
        detail = " ".join((error.server_message or "").split()) or _one_line(error)
        return HubRequestError(f"{what}: the Hub at {endpoint} answered {error.response.status_code}: {detail}")
    return HubRequestError(f"{what}: cannot reach the Hub at {endpoint} ({_one_line(error)})")


# ---------------------------------------------------------------------------
# Finding the revision and its build/ files
# ---------------------------------------------------------------------------


def _cached_build_files(repo_id: str, repo_type: str, revision: str) -> Optional[tuple[str, ...]]:
    """The ``build/`` files of a revision from the cached tree listing, without a request."""
    from huggingface_hub import get_cached_repo_tree
    from huggingface_hub.errors import CachedRepoTreeNotFoundError

    try:
        files = get_cached_repo_tree(repo_id, repo_type=repo_type, revision=revision, cache_dir=cache_dir())
    except (CachedRepoTreeNotFoundError, OSError, ValueError):
        return None
    return tuple(sorted(f.path for f in files if f.path.startswith("build/")))


def _available_versions(api: "HfApi", repo_id: str, repo_type: str) -> list[int]:
    refs = api.list_repo_refs(repo_id, repo_type=repo_type)
    return sorted(int(b.name[1:]) for b in refs.branches if re.fullmatch(r"v\d+", b.name))


def _locate(api: "HfApi", repo_id: str, revision: str, offline: bool, resolve: bool = True) -> _Target:
    """Find the repository type, commit and ``build/`` file list of ``repo_id@revision``.

    A branch or tag is resolved with ``HfApi.resolve_revision``, which also
    records it in the cache (``refs/``) for offline use; the returned
    ``ResolvedRevision`` lets :func:`_download` skip resolving it again.
    ``resolve=False`` lists the branch or tag as it is, without its sha (one
    request instead of two, for callers that only judge the variants).
    """
    from huggingface_hub import RepoFile
    from huggingface_hub.errors import (
        EntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
        RevisionResolutionError,
    )

    is_sha = bool(_SHA.fullmatch(revision))
    if is_sha or offline:
        # A commit never changes: its cached listing is as good as the Hub's.
        for repo_type in REPO_TYPES:
            files = _cached_build_files(repo_id, repo_type, revision)
            if files is not None:
                return _Target(repo_id, repo_type, revision, revision if is_sha else None, files)
        if offline:
            raise KernelNotCachedError(
                f"{repo_id}@{revision} is not in the kernel cache ({cache_dir() or 'Hugging Face cache'}) "
                "and HF_HUB_OFFLINE is set: load it once online first"
            )
    for repo_type in REPO_TYPES:
        requested = revision
        try:
            sha: Optional[str] = revision if is_sha else None
            if sha is None and resolve:
                requested = api.resolve_revision(repo_id, repo_type=repo_type, revision=revision,
                                                 cache_dir=cache_dir())
                sha = requested.resolved
            files = _cached_build_files(repo_id, repo_type, sha) if sha is not None else None
            if files is None:
                try:
                    entries = api.list_repo_tree(repo_id, path_in_repo="build", revision=sha or revision,
                                                 repo_type=repo_type, recursive=True)
                    files = tuple(sorted(e.path for e in entries if isinstance(e, RepoFile)))
                except EntryNotFoundError:
                    files = ()
        except RepositoryNotFoundError:
            continue
        except RevisionNotFoundError:
            raise KernelRevisionNotFoundError(_revision_not_found(api, repo_id, repo_type, revision)) from None
        except RevisionResolutionError as e:  # The Hub could not be reached and nothing is cached.
            cause = e.__cause__ if isinstance(e.__cause__, _network_errors()) else e
            raise _request_failed(f"looking up {repo_id}@{revision}", api.endpoint, cause) from None
        except _network_errors() as e:
            raise _request_failed(f"looking up {repo_id}@{revision}", api.endpoint, e) from None
        return _Target(repo_id, repo_type, requested, sha, files)
    raise KernelNotFoundError(
        f"kernel repository {repo_id!r} not found on {api.endpoint} "
        "(it does not exist, or it is private and you are not logged in)"
    )


def _revision_not_found(api: "HfApi", repo_id: str, repo_type: str, revision: str) -> str:
    try:
        versions = _available_versions(api, repo_id, repo_type)
    except Exception:  # noqa: BLE001 - only used to improve the message
        versions = []
    available = f"available versions: {', '.join(map(str, versions))}" if versions else "it has no vN version branches"
    if re.fullmatch(r"v\d+", revision):
        return f"{repo_id} has no version {revision[1:]} (no branch {revision!r}); {available}"
    return f"{repo_id} has no revision {revision!r} (branch, tag or commit sha); {available}"


def _variant_files(target: _Target) -> dict[str, set[str]]:
    """Variant name -> file paths relative to the variant directory."""
    variants: dict[str, set[str]] = {}
    for path in target.build_files:
        parts = path.split("/")
        if len(parts) >= 3:
            variants.setdefault(parts[1], set()).add("/".join(parts[2:]))
    return variants


def _decide(target: _Target, backend: Optional[str]) -> list[Decision]:
    problems = {}
    variants = _variant_files(target)
    for name, files in variants.items():
        missing = [f for f in ("__init__.py", "metadata.json") if f not in files]
        if missing:
            problems[name] = f"incomplete build variant: no {' and no '.join(missing)}"
    return decide([name for name in variants if is_valid_variant_name(name)], backend, problems) + [
        VariantRejected(name, f"{name!r} is not a build variant name")
        for name in sorted(variants) if not is_valid_variant_name(name)
    ]


def _best(target: _Target, decisions: list[Decision], backend: Optional[str]) -> str:
    accepted = [d for d in decisions if isinstance(d, VariantAccepted)]
    if accepted:
        return accepted[0].variant
    if not decisions:
        raise VariantNotFoundError(f"{target.label} has no build variants (no build/<variant>/ directories)")
    reasons = "; ".join(f"{d.variant}: {d.reason}" for d in decisions if isinstance(d, VariantRejected))
    raise VariantNotFoundError(
        f"{target.label} has no build variant for this environment ({environment_summary(backend)}); {reasons}"
    )


# ---------------------------------------------------------------------------
# Publisher trust
# ---------------------------------------------------------------------------


def _trust_file() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "kernels" / "trusted-publishers.json"


def _read_trust() -> dict[str, Any]:
    try:
        data = json.loads(_trust_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remember_trust(endpoint: str, org: str) -> None:
    path = _trust_file()
    data = _read_trust()
    data.setdefault(endpoint, {})[org] = time.time()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".trusted-publishers-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError:
        pass  # The record only saves a request next time.


def check_trusted_publisher(api: "HfApi", repo_id: str, trust_remote_code: Union[bool, list, tuple],
                            offline: bool = False) -> None:
    """Raise :class:`UntrustedPublisherError` unless the publisher of ``repo_id`` may be loaded.

    ``trust_remote_code=True`` allows any publisher. Otherwise the Hub's
    organization overview must carry ``trustedKernelPublisher: true``; a
    positive answer is remembered for :data:`TRUST_TTL_SECONDS` (and used
    offline). A list is reserved for signing identities: for now it warns
    and falls back to the publisher check.
    """
    if trust_remote_code is True:
        return
    if isinstance(trust_remote_code, (list, tuple)):
        warnings.warn(
            "trust_remote_code as a list of signing identities is not supported yet; "
            "falling back to the trusted-publisher check",
            UserWarning,
            stacklevel=3,
        )
    elif trust_remote_code is not False:
        raise TypeError(f"trust_remote_code must be True, False or a list of strings, got {trust_remote_code!r}")
    org = repo_id.split("/", 1)[0]
    how = "pass trust_remote_code=True to load it anyway"
    checked_at = _read_trust().get(api.endpoint, {}).get(org)
    if isinstance(checked_at, (int, float)) and (offline or time.time() - checked_at < TRUST_TTL_SECONDS):
        return
    if offline:
        raise UntrustedPublisherError(
            f"cannot check whether {org!r} (publisher of {repo_id}) is a trusted kernel publisher while "
            f"HF_HUB_OFFLINE is set; {how}"
        )
    from huggingface_hub.errors import HfHubHTTPError

    try:
        overview = api.get_organization_overview(org)
        trusted = getattr(overview, "trustedKernelPublisher", False) is True
    except _network_errors() as e:
        status = e.response.status_code if isinstance(e, HfHubHTTPError) and e.response is not None else None
        if status != 404:
            raise UntrustedPublisherError(
                f"could not check whether {org!r} is a trusted kernel publisher ({_one_line(e)}); {how}"
            ) from None
        trusted = False  # Users and unknown organizations are not trusted publishers.
    if not trusted:
        raise UntrustedPublisherError(f"{repo_id} is not from a trusted kernel publisher ({org!r}); {how}")
    _remember_trust(api.endpoint, org)


# ---------------------------------------------------------------------------
# Downloading
# ---------------------------------------------------------------------------


def _download(api: "HfApi", target: _Target, variant: str, offline: bool) -> tuple[Path, str]:
    """Fetch ``build/<variant>/*`` (from the cache when complete); returns the snapshot and its sha."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        snapshot = api.snapshot_download(
            target.repo_id,
            repo_type=target.repo_type,
            # Online, a ResolvedRevision: pinned to the sha already listed, and not resolved again
            # (_locate recorded the branch or tag in the cache for offline use).
            revision=target.revision,
            allow_patterns=[f"build/{variant}/*"],
            cache_dir=cache_dir(),
            local_files_only=offline,
        )
    except LocalEntryNotFoundError as e:
        raise KernelNotCachedError(f"{target.label}: build/{variant} is not completely cached and "
                                   f"HF_HUB_OFFLINE is set ({_one_line(e)})") from None
    except _network_errors() as e:
        raise KernelDownloadError(f"{target.label}: downloading build/{variant} failed: {_one_line(e)}") from None
    path = Path(str(snapshot))
    return path, path.name


def _validated_variant(target: _Target, variant_dir: Path) -> Path:
    rel = f"build/{variant_dir.name}"
    if not (variant_dir / "metadata.json").is_file():
        raise MetadataError(f"{target.label}: {rel}/metadata.json is missing")
    if not (variant_dir / "__init__.py").is_file():
        raise FileNotFoundError(f"{target.label}: {rel}/__init__.py is missing")
    try:
        Metadata.load(variant_dir / "metadata.json")
    except MetadataError as e:
        detail = str(e).split(": ", 1)[-1]
        raise MetadataError(f"{target.label}: {rel}/metadata.json: {detail}") from None
    return variant_dir


def _fetch(repo_id: str, revision: str, backend: Optional[str], user_agent: Union[str, dict, None],
           trust_remote_code: Union[bool, list, tuple, None]) -> tuple[_Target, Path]:
    """Locate, trust-check and download the variant to load; returns it with its resolved target."""
    offline = _offline()
    api = _api(user_agent, backend)
    current_environment(backend)  # Validates the backend before any request.
    target = _locate(api, repo_id, revision, offline)
    if trust_remote_code is not None:
        check_trusted_publisher(api, repo_id, trust_remote_code, offline)
    for _ in range(3):
        variant = _best(target, _decide(target, backend), backend)
        snapshot, sha = _download(api, target, variant, offline)
        if target.sha is None or sha == target.sha:
            break
        # The branch moved between listing and downloading: judge the new commit.
        target = _locate(api, repo_id, sha, offline)
        target = _Target(repo_id, target.repo_type, revision, sha, target.build_files)
    else:
        raise KernelDownloadError(f"{repo_id}@{revision} keeps moving while it is downloaded; try again")
    target = _Target(target.repo_id, target.repo_type, target.revision, sha, target.build_files)
    return target, _validated_variant(target, snapshot / "build" / variant)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def get_kernel(
    repo_id: str,
    revision: Optional[str] = None,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    user_agent: Union[str, dict, None] = None,
    trust_remote_code: Union[bool, list[str]] = False,
) -> ModuleType:
    """Load the kernel in ``repo_id`` for this environment.

    Exactly one of ``version`` (a major version, i.e. the ``v<version>``
    branch) and ``revision`` (a branch, tag or commit sha) selects what to
    load from the Hub. ``backend`` may be ``cpu`` or the backend Torch was
    built for. Kernels from publishers that the Hub does not mark as trusted
    need ``trust_remote_code=True``.
    """
    _check_revision_args(revision, version)
    local_path = local_kernel_path(repo_id)
    if local_path is not None:
        return get_local_kernel(local_path, backend)
    _check_repo_id(repo_id)
    rev = _require_revision(repo_id, revision, version)
    if trust_remote_code is None:  # None would skip the publisher check (see _fetch): it means False.
        trust_remote_code = False
    target, variant_dir = _fetch(repo_id, rev, backend, user_agent, trust_remote_code)
    assert target.sha is not None
    return import_variant(variant_dir, RepoInfo(repo_id=repo_id, revision=target.sha),
                          backend=current_environment(backend).backend)


def download_kernel(
    repo_id: str,
    revision: Optional[str] = None,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    user_agent: Union[str, dict, None] = None,
) -> Path:
    """Download (or find in the cache) the variant :func:`get_kernel` would load; returns its directory.

    Nothing is imported, so no publisher check is made.
    """
    _check_revision_args(revision, version)
    _check_repo_id(repo_id)
    rev = _require_revision(repo_id, revision, version)
    return _fetch(repo_id, rev, backend, user_agent, None)[1]


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
    _check_revision_args(revision, version)
    local_path = local_kernel_path(repo_id)
    if local_path is not None:
        build = local_path / "build" if (local_path / "build").is_dir() else local_path
        names = [p.name for p in build.iterdir() if p.is_dir()] if build.is_dir() else []
        return decide([n for n in names if is_valid_variant_name(n)], backend)
    _check_repo_id(repo_id)
    rev = _require_revision(repo_id, revision, version)
    current_environment(backend)
    # Only the file list matters here, so a branch or tag is listed without resolving its sha first.
    target = _locate(_api(user_agent, backend), repo_id, rev, _offline(), resolve=False)
    return _decide(target, backend)


def has_kernel(
    repo_id: str,
    revision: Optional[str] = None,
    version: Optional[int] = None,
    backend: Optional[str] = None,
    user_agent: Union[str, dict, None] = None,
) -> bool:
    """Whether ``repo_id`` has a build variant this environment can load.

    A repository, version or revision that does not exist has no kernel
    either (``False``); invalid arguments still raise.
    """
    _check_revision_args(revision, version)
    local_path = local_kernel_path(repo_id)
    if local_path is not None:
        try:
            find_local_variant(local_path, backend)
        except (FileNotFoundError, VariantNotFoundError):
            return False
        return True
    try:
        decisions = get_kernel_variants(repo_id, revision, version, backend, user_agent)
    except (KernelNotFoundError, KernelRevisionNotFoundError, KernelNotCachedError):
        return False
    return any(isinstance(d, VariantAccepted) for d in decisions)


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


def list_kernel_versions(repo_id: str, backend: Optional[str] = None,
                         user_agent: Union[str, dict, None] = None) -> list[KernelVersion]:
    """Every version (``vN`` branch) of ``repo_id``, oldest first, with its variant decisions."""
    from huggingface_hub import RepoFolder
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    _check_repo_id(repo_id)
    if _offline():
        raise KernelNotCachedError("listing versions needs the Hub, but HF_HUB_OFFLINE is set")
    current_environment(backend)
    api = _api(user_agent, backend)
    for repo_type in REPO_TYPES:
        try:
            refs = api.list_repo_refs(repo_id, repo_type=repo_type)
        except RepositoryNotFoundError:
            continue
        except _network_errors() as e:
            raise _request_failed(f"listing the versions of {repo_id}", api.endpoint, e) from None
        result = []
        branches = [b for b in refs.branches if re.fullmatch(r"v\d+", b.name)]
        for branch in sorted(branches, key=lambda b: int(b.name[1:])):
            try:
                entries = api.list_repo_tree(repo_id, path_in_repo="build", revision=branch.target_commit,
                                             repo_type=repo_type)
                names = [e.path.split("/")[-1] for e in entries if isinstance(e, RepoFolder)]
            except EntryNotFoundError:
                names = []
            except _network_errors() as e:
                raise _request_failed(f"listing the versions of {repo_id}", api.endpoint, e) from None
            decisions = decide([n for n in names if is_valid_variant_name(n)], backend)
            result.append(KernelVersion(int(branch.name[1:]), branch.target_commit, tuple(decisions)))
        return result
    raise KernelNotFoundError(f"kernel repository {repo_id!r} not found on {api.endpoint}")
