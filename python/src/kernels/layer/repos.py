"""Repositories of kernel mappings: where the layer (or function) replacing a ``forward`` comes from.

Every repository has a ``load()`` method returning the ``nn.Module``
subclass whose ``forward`` ``kernelize`` installs. Function repositories wrap
the kernel function in such a class. Nothing is downloaded or imported before
``load()`` is called, so registering mappings is cheap.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Optional, Union

from ..lockfile import LOCKFILE_NAME, KernelLock
from ..locking import caller_package as find_caller_package

TrustRemoteCode = Union[bool, list[str]]


class KernelLayerNotFoundError(LookupError):
    """The kernel was loaded but has no layer or function of the requested name."""


def _check_name(value: Any, what: str, cls_name: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{cls_name}: '{what}' must be a non-empty string, got {value!r}")
    return value


def _check_revision_or_version(cls_name: str, repo_id: str, revision: Any, version: Any) -> None:
    # The first sentence is upstream's wording, which clients match on.
    if revision is not None and version is not None:
        raise ValueError(f"{cls_name}({repo_id!r}): Either a revision or a version must be specified, not both "
                         "(pass either 'revision' or 'version', not both)")
    if revision is None and version is None:
        raise ValueError(f"{cls_name}({repo_id!r}): Either a revision or a version must be specified "
                         "(a Hub repository needs a 'version' or a 'revision')")
    if revision is not None and (not isinstance(revision, str) or not revision):
        raise TypeError(f"{cls_name}({repo_id!r}): 'revision' must be a non-empty string, got {revision!r}")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 0):
        raise ValueError(f"{cls_name}({repo_id!r}): 'version' must be a non-negative integer, got {version!r}")


def _check_trust(cls_name: str, trust_remote_code: Any) -> TrustRemoteCode:
    if isinstance(trust_remote_code, bool):
        return trust_remote_code
    if isinstance(trust_remote_code, (list, tuple)) and all(isinstance(i, str) for i in trust_remote_code):
        return list(trust_remote_code)
    raise TypeError(f"{cls_name}: 'trust_remote_code' must be a bool or a list of strings, got {trust_remote_code!r}")


def _check_flag(cls_name: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{cls_name}: '{name}' must be a bool, got {value!r}")
    return value


def _check_user_agent(cls_name: str, user_agent: Any) -> Union[str, dict, None]:
    if user_agent is not None and not isinstance(user_agent, (str, dict)):
        raise TypeError(f"{cls_name}: 'user_agent' must be a string or a dict, got {user_agent!r}")
    return dict(user_agent) if isinstance(user_agent, dict) else user_agent


def _supported_options(func: Callable, **options: Any) -> dict[str, Any]:
    """The ``options`` that ``func`` accepts (``check_arch`` only reaches a loader that implements it)."""
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return options
    return {k: v for k, v in options.items() if k in params}


def _hashable_trust(trust_remote_code: TrustRemoteCode) -> Union[bool, tuple[str, ...]]:
    return trust_remote_code if isinstance(trust_remote_code, bool) else tuple(trust_remote_code)


class _Repository:
    """What all repositories share: loading, equality, and a description for logs and errors."""

    _kind = "layer"  # "layer" or "function"

    @property
    def _name(self) -> str:
        raise NotImplementedError

    def _key(self) -> tuple:
        raise NotImplementedError

    def _source(self) -> str:
        raise NotImplementedError

    def _load_module(self) -> ModuleType:
        raise NotImplementedError

    def load(self) -> type:
        """Load the kernel and return the ``nn.Module`` subclass that provides the new ``forward``."""
        module = self._load_module()
        if self._kind == "function":
            return _function_from_module(self, module)
        return _layer_from_module(self, module)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._key() == self._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __str__(self) -> str:
        return f"{self._kind} `{self._name}` from {self._source()}"


class _HubRepository(_Repository):
    def __init__(
        self,
        repo_id: str,
        name: str,
        *,
        revision: Optional[str] = None,
        version: Optional[int] = None,
        trust_remote_code: TrustRemoteCode = False,
        user_agent: Union[str, dict, None] = None,
        check_arch: bool = True,
    ) -> None:
        cls_name = type(self).__name__
        self.repo_id = _check_name(repo_id, "repo_id", cls_name)
        _check_revision_or_version(cls_name, repo_id, revision, version)
        self.revision = revision
        self.version = version
        self.trust_remote_code = _check_trust(cls_name, trust_remote_code)
        self.user_agent = _check_user_agent(cls_name, user_agent)
        self.check_arch = _check_flag(cls_name, "check_arch", check_arch)

    # Upstream's attribute names, which client code and tests read.
    _repo_id = property(lambda self: self.repo_id)
    _revision = property(lambda self: self.revision)
    _version = property(lambda self: self.version)

    def _key(self) -> tuple:
        # The user agent only labels requests, so it does not make repositories different.
        return (self.repo_id, self._name, self.revision, self.version, _hashable_trust(self.trust_remote_code),
                self.check_arch)

    def _source(self) -> str:
        pin = f"version {self.version}" if self.version is not None else f"revision {self.revision}"
        return f"`{self.repo_id}` ({pin})"

    def _load_module(self) -> ModuleType:
        from ..hub import get_kernel

        options = _supported_options(get_kernel, user_agent=self.user_agent, check_arch=self.check_arch)
        return get_kernel(
            self.repo_id, revision=self.revision, version=self.version, trust_remote_code=self.trust_remote_code,
            **options,
        )

    def __repr__(self) -> str:
        pin = f"version={self.version!r}" if self.version is not None else f"revision={self.revision!r}"
        field = "layer_name" if self._kind == "layer" else "func_name"
        trust = f", trust_remote_code={self.trust_remote_code!r}" if self.trust_remote_code else ""
        return f"{type(self).__name__}(repo_id={self.repo_id!r}, {field}={self._name!r}, {pin}{trust})"


class _LocalRepository(_Repository):
    def __init__(self, repo_path: Union[str, Path], package_name: Optional[str], check_arch: bool = True) -> None:
        cls_name = type(self).__name__
        if not isinstance(repo_path, (str, Path)):
            raise TypeError(f"{cls_name}: 'repo_path' must be a path, got {repo_path!r}")
        if package_name is not None:
            _check_name(package_name, "package_name", cls_name)
        self.repo_path = Path(repo_path)
        self.package_name = package_name
        self.check_arch = _check_flag(cls_name, "check_arch", check_arch)

    _repo_path = property(lambda self: self.repo_path)  # upstream's attribute name

    def _key(self) -> tuple:
        return (self.repo_path, self.package_name, self._name, self.check_arch)

    def _source(self) -> str:
        return f"local path `{self.repo_path}`"

    def _load_module(self) -> ModuleType:
        from ..loader import get_local_kernel

        return get_local_kernel(self.repo_path, **_supported_options(get_local_kernel, check_arch=self.check_arch))

    def __repr__(self) -> str:
        field = "layer_name" if self._kind == "layer" else "func_name"
        package = f", package_name={self.package_name!r}" if self.package_name is not None else ""
        return f"{type(self).__name__}(repo_path={str(self.repo_path)!r}{package}, {field}={self._name!r})"


class _LockedRepository(_Repository):
    # Upstream's options (set by `_set_options`). The lock pins the commit and
    # the hash of every file, and `kernels lock` wrote it for a repository the
    # project chose, so neither changes what is loaded; they count for equality.
    trust_remote_code: TrustRemoteCode = False
    check_arch: bool = True

    def __init__(self, repo_id: str, lockfile: Optional[Union[str, Path]], caller_package: Optional[str]) -> None:
        cls_name = type(self).__name__
        self.repo_id = _check_name(repo_id, "repo_id", cls_name)
        if lockfile is not None and not isinstance(lockfile, (str, Path)):
            raise TypeError(f"{cls_name}: 'lockfile' must be a path, got {lockfile!r}")
        self.lockfile = None if lockfile is None else Path(lockfile)
        self._caller_package = caller_package

    def _set_options(self, trust_remote_code: Any, check_arch: Any) -> None:
        cls_name = type(self).__name__
        self.trust_remote_code = _check_trust(cls_name, trust_remote_code)
        self.check_arch = _check_flag(cls_name, "check_arch", check_arch)

    _repo_id = property(lambda self: self.repo_id)  # upstream's attribute names
    _lockfile = property(lambda self: self.lockfile)

    def _key(self) -> tuple:
        return (self.repo_id, self._name, self.lockfile, self._caller_package, _hashable_trust(self.trust_remote_code),
                self.check_arch)

    def _source(self) -> str:
        where = f"lock file `{self.lockfile}`" if self.lockfile is not None else LOCKFILE_NAME
        return f"`{self.repo_id}` (locked in {where})"

    def lock(self) -> KernelLock:
        """This repository's entry in its lock file (``ValueError`` if there is none)."""
        from ..locking import find_kernel_lock

        try:
            return find_kernel_lock(self.repo_id, self.lockfile, self._caller_package)
        except (ValueError, FileNotFoundError) as e:
            raise type(e)(f"{self}: {e}") from None

    def locked_revision(self) -> str:
        """The commit this repository is locked to; ``ValueError`` if it is not locked."""
        return self.lock().sha

    def _load_module(self) -> ModuleType:
        # The same path as `get_locked_kernel`: the cached files are checked
        # against the lock's hash before they are imported.
        from ..hub import is_offline
        from ..locking import load_locked

        return load_locked(self.lock(), None, offline=is_offline(), pre_downloaded=False)

    def __repr__(self) -> str:
        field = "layer_name" if self._kind == "layer" else "func_name"
        lockfile = f", lockfile={str(self.lockfile)!r}" if self.lockfile is not None else ""
        return f"{type(self).__name__}(repo_id={self.repo_id!r}, {field}={self._name!r}{lockfile})"


# --- Layers ----------------------------------------------------------------------------------------


class LayerRepository(_HubRepository):
    """Layer ``layer_name`` of the kernel in Hub repository ``repo_id``.

    Exactly one of ``version`` (a major version: the ``v<version>`` branch)
    and ``revision`` (branch, tag or commit) is required.
    ``trust_remote_code`` is passed on to ``get_kernel``.
    """

    _kind = "layer"

    def __init__(
        self,
        repo_id: str,
        layer_name: Optional[str] = None,
        *,
        revision: Optional[str] = None,
        version: Optional[int] = None,
        trust_remote_code: TrustRemoteCode = False,
        user_agent: Union[str, dict, None] = None,
        check_arch: bool = True,
    ) -> None:
        self.layer_name = _check_name(layer_name, "layer_name", type(self).__name__)
        super().__init__(repo_id, self.layer_name, revision=revision, version=version,
                         trust_remote_code=trust_remote_code, user_agent=user_agent, check_arch=check_arch)

    @property
    def _name(self) -> str:
        return self.layer_name


class LocalLayerRepository(_LocalRepository):
    """Layer ``layer_name`` of a kernel on disk.

    ``repo_path`` is a kernel project (with ``build/``), a ``build/``
    directory or a variant directory, as for ``get_local_kernel``.
    ``package_name`` is accepted for compatibility and only shown in messages.
    """

    _kind = "layer"

    def __init__(
        self, repo_path: Union[str, Path], package_name: Optional[str] = None, layer_name: Optional[str] = None,
        *, check_arch: bool = True,
    ) -> None:
        self.layer_name = _check_name(layer_name, "layer_name", type(self).__name__)
        super().__init__(repo_path, package_name, check_arch)

    @property
    def _name(self) -> str:
        return self.layer_name


class LockedLayerRepository(_LockedRepository):
    """Layer ``layer_name`` of ``repo_id`` at the revision pinned in a ``kernels.lock``.

    Without ``lockfile``, the lock file is the ``kernels.lock`` shipped in the
    metadata of the installed distribution that the code creating the
    repository belongs to (see ``kernels lock``).
    """

    _kind = "layer"

    def __init__(
        self, repo_id: str, layer_name: Optional[str] = None, *, lockfile: Optional[Union[str, Path]] = None,
        trust_remote_code: TrustRemoteCode = False, check_arch: bool = True,
    ) -> None:
        self._set_options(trust_remote_code, check_arch)
        self.layer_name = _check_name(layer_name, "layer_name", type(self).__name__)
        super().__init__(repo_id, lockfile, find_caller_package())

    @property
    def _name(self) -> str:
        return self.layer_name


# --- Functions -------------------------------------------------------------------------------------


class FuncRepository(_HubRepository):
    """Function ``func_name`` of the kernel in Hub repository ``repo_id``.

    Exactly one of ``version`` and ``revision`` is required. The function is
    wrapped in a stateless layer whose ``forward`` calls it, so it can replace
    layers that do not use their own state and functions made extensible with
    ``use_kernel_func_from_hub``.
    """

    _kind = "function"

    def __init__(
        self,
        repo_id: str,
        func_name: Optional[str] = None,
        *,
        revision: Optional[str] = None,
        version: Optional[int] = None,
        trust_remote_code: TrustRemoteCode = False,
        check_arch: bool = True,
    ) -> None:
        self.func_name = _check_name(func_name, "func_name", type(self).__name__)
        super().__init__(repo_id, self.func_name, revision=revision, version=version,
                         trust_remote_code=trust_remote_code, check_arch=check_arch)

    @property
    def _name(self) -> str:
        return self.func_name


class LocalFuncRepository(_LocalRepository):
    """Function ``func_name`` of a kernel on disk (see ``LocalLayerRepository``)."""

    _kind = "function"

    def __init__(
        self, repo_path: Union[str, Path], package_name: Optional[str] = None, func_name: Optional[str] = None,
        *, check_arch: bool = True,
    ) -> None:
        self.func_name = _check_name(func_name, "func_name", type(self).__name__)
        super().__init__(repo_path, package_name, check_arch)

    @property
    def _name(self) -> str:
        return self.func_name


class LockedFuncRepository(_LockedRepository):
    """Function ``func_name`` of ``repo_id`` at the revision pinned in a ``kernels.lock``."""

    _kind = "function"

    def __init__(
        self, repo_id: str, func_name: Optional[str] = None, *, lockfile: Optional[Union[str, Path]] = None,
        trust_remote_code: TrustRemoteCode = False, check_arch: bool = True,
    ) -> None:
        self._set_options(trust_remote_code, check_arch)
        self.func_name = _check_name(func_name, "func_name", type(self).__name__)
        super().__init__(repo_id, lockfile, find_caller_package())

    @property
    def _name(self) -> str:
        return self.func_name


REPOSITORY_TYPES = (
    LayerRepository,
    LocalLayerRepository,
    LockedLayerRepository,
    FuncRepository,
    LocalFuncRepository,
    LockedFuncRepository,
)


def is_repository(value: Any) -> bool:
    """Whether ``value`` can be a mapping entry: one of ours, or any object with a ``load()`` method."""
    return isinstance(value, REPOSITORY_TYPES) or (not isinstance(value, (dict, type)) and callable(
        getattr(value, "load", None)))


# --- Getting the layer out of a loaded kernel ------------------------------------------------------


def _layer_from_module(repo: _Repository, module: ModuleType) -> type:
    layers = getattr(module, "layers", None)
    if layers is None:
        raise KernelLayerNotFoundError(
            f"{repo}: the kernel has no `layers` module (kernels export layers as `layers` in their __init__.py)"
        )
    layer = getattr(layers, repo._name, None)
    if layer is None:
        raise KernelLayerNotFoundError(f"{repo}: the kernel's `layers` module has no `{repo._name}`")
    return layer


def _function_from_module(repo: _Repository, module: ModuleType) -> type:
    func = getattr(module, repo._name, None)
    if func is None:
        raise KernelLayerNotFoundError(f"{repo}: the kernel has no function `{repo._name}`")
    if not callable(func):
        raise TypeError(f"{repo}: `{repo._name}` is not callable")
    return function_layer(func, name=repo._name)


def forward_signature(func: Callable) -> Optional[inspect.Signature]:
    """``func``'s signature with ``self`` prepended, or ``None`` if it has none."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *sig.parameters.values()]
    return sig.replace(parameters=params)


def function_layer(func: Callable, *, name: str, attrs: Optional[dict[str, Any]] = None) -> type:
    """A stateless ``nn.Module`` subclass whose ``forward`` calls ``func``.

    ``forward`` has ``func``'s signature (plus ``self``), so the class can be
    validated against the layer it replaces. ``has_backward`` and
    ``can_torch_compile`` are taken from ``func`` when it defines them.
    """
    from torch import nn

    def forward(self, *args, **kwargs):  # noqa: ANN001 - signature is set below
        return func(*args, **kwargs)

    signature = forward_signature(func)
    if signature is not None:
        forward.__signature__ = signature  # type: ignore[attr-defined]
    forward.__doc__ = getattr(func, "__doc__", None)
    namespace: dict[str, Any] = {
        "forward": forward,
        "__module__": getattr(func, "__module__", None) or __name__,
        "__doc__": getattr(func, "__doc__", None),
    }
    for flag in ("has_backward", "can_torch_compile"):
        if hasattr(func, flag):
            namespace[flag] = bool(getattr(func, flag))
    namespace.update(attrs or {})
    cls = type(name if name.isidentifier() else "KernelFunction", (nn.Module,), namespace)
    cls.__qualname__ = cls.__name__
    forward.__qualname__ = f"{cls.__name__}.forward"
    return cls
