"""The one place that builds a Hub client (``HfApi``): user agent, token and request timeouts.

Every module that talks to the Hub gets its client from :func:`hub_client`,
so all requests carry the same user agent and none can wait forever:
huggingface_hub's shared HTTP client has no timeout of its own and passes
``timeout=None`` on many calls, so :func:`install_request_timeouts` gives
each request whose timeout is unset the bound of :data:`TIMEOUT_ENV`.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from .errors import HubRequestError, HubTimeoutError

if TYPE_CHECKING:  # pragma: no cover
    from huggingface_hub import HfApi

#: Seconds any single Hub request may take to connect, or wait for the next bytes.
TIMEOUT_ENV = "KERNELS_HUB_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 60.0

_TRUE = {"1", "ON", "YES", "TRUE"}
_TIMEOUT_PHASES = ("connect", "read", "write", "pool")


def env_true(name: str) -> bool:
    return os.environ.get(name, "").upper() in _TRUE


def is_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` is on: then no request is made at all."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or env_true("HF_HUB_OFFLINE")


def telemetry_disabled() -> bool:
    """``HF_HUB_DISABLE_TELEMETRY``, ``DISABLE_TELEMETRY`` or ``DO_NOT_TRACK``, as huggingface_hub reads them."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_DISABLE_TELEMETRY) or any(
        env_true(name) for name in ("HF_HUB_DISABLE_TELEMETRY", "DISABLE_TELEMETRY", "DO_NOT_TRACK")
    )


def hub_timeout() -> float:
    """The request timeout in seconds: ``KERNELS_HUB_TIMEOUT`` or :data:`DEFAULT_TIMEOUT_SECONDS`."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{TIMEOUT_ENV} must be a positive number of seconds, got {text!r}")
    return seconds


def _bound_request_timeout(request: Any) -> None:
    """httpx request hook: every timeout phase left unset (``None``) gets :func:`hub_timeout`."""
    seconds = hub_timeout()
    current = request.extensions.get("timeout") or {}
    request.extensions["timeout"] = {
        phase: seconds if current.get(phase) is None else current[phase] for phase in _TIMEOUT_PHASES
    }


def _with_bounded_timeouts(factory: Callable[[], Any]) -> Callable[[], Any]:
    def bounded_client() -> Any:
        client = factory()
        hooks = client.event_hooks
        hooks.setdefault("request", [])
        if _bound_request_timeout not in hooks["request"]:
            hooks["request"].append(_bound_request_timeout)
        client.event_hooks = hooks
        return client

    bounded_client.kernels_bounded = True  # type: ignore[attr-defined]
    return bounded_client


def install_request_timeouts() -> None:
    """Make huggingface_hub's shared HTTP client bound every request (idempotent).

    The client factory in use (huggingface_hub's default, or one the
    application set) is wrapped, not replaced, so its settings are kept.
    """
    import huggingface_hub
    from huggingface_hub.utils import _http

    current = getattr(_http, "_GLOBAL_CLIENT_FACTORY", None) or _http.default_client_factory
    if getattr(current, "kernels_bounded", False):
        return
    huggingface_hub.set_client_factory(_with_bounded_timeouts(current))


def platform_tag() -> str:
    """``<cpu>-<os>`` of this machine as the user agent reports it (``x86_64-linux``, ``aarch64-darwin``)."""
    cpu, system = platform.machine(), platform.system().lower()
    if system == "darwin" and cpu == "arm64":
        cpu = "aarch64"
    elif system == "windows" and cpu.upper() == "AMD64":
        cpu = "x86_64"
    return f"{cpu}-{system}"


def _environment_parts(backend: Optional[str]) -> list[str]:
    from .. import __version__
    from ..variants import current_environment

    parts = [f"kernels/{__version__}", f"python/{sys.version_info[0]}.{sys.version_info[1]}"]
    try:
        env = current_environment(backend)
        compute = getattr(env, "compute", env.backend)
        parts.append(f"backend/{compute}")
    except (ImportError, ValueError):
        pass  # No Torch (or an unknown backend): no backend to report.
    parts.append(f"platform/{platform_tag()}")
    parts.append("file_type/kernel")
    torch = sys.modules.get("torch")
    if torch is not None:
        parts.append(f"torch/{torch.__version__}")
    return parts


def user_agent_string(user_agent: Union[str, dict, None] = None, backend: Optional[str] = None) -> str:
    """The user agent ``kernels`` sends: the caller's parts, then ours; ``""`` when telemetry is disabled."""
    if telemetry_disabled():
        return ""
    parts: list[str] = []
    if isinstance(user_agent, dict):
        parts += [f"{key}/{value}" for key, value in user_agent.items()]
    elif isinstance(user_agent, str) and user_agent:
        parts.append(user_agent)
    return "; ".join(parts + _environment_parts(backend))


def hub_client(user_agent: Union[str, dict, None] = None, backend: Optional[str] = None, *,
               token: Union[str, bool, None] = None, library: Optional[tuple[str, str]] = None) -> "HfApi":
    """A Hub client for ``kernels`` (or, with ``library=(name, version)``, for a tool built on it).

    ``token`` as for ``HfApi`` (default: the logged-in token or ``HF_TOKEN``).
    Requests made through it, and through huggingface_hub's module-level
    functions, are bounded by :func:`hub_timeout`.
    """
    from huggingface_hub import HfApi

    from .. import __version__

    hub_timeout()  # A bad KERNELS_HUB_TIMEOUT is reported before any request.
    install_request_timeouts()
    agent = user_agent_string(user_agent, backend)
    name, version = library or ("kernels", __version__)
    # Telemetry off: no library name either, only what huggingface_hub always sends.
    identity = {"library_name": name, "library_version": version} if agent else {}
    return HfApi(user_agent=agent, token=token, **identity)


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def network_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the Hub request failed" (HTTP errors, unreachable host, timeouts)."""
    from huggingface_hub.errors import HfHubHTTPError

    errors: tuple[type[BaseException], ...] = (HfHubHTTPError, OSError)
    try:
        import httpx2  # huggingface_hub's HTTP client

        errors += (httpx2.HTTPError,)
    except ImportError:  # pragma: no cover - other huggingface_hub releases
        pass
    return errors


def is_timeout(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) is a request that ran past its timeout."""
    seen: set[int] = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TimeoutError) or type(current).__name__.endswith("Timeout") \
                or "TimeoutException" in [c.__name__ for c in type(current).__mro__]:
            return True
        current = current.__cause__ or current.__context__
    return False


def request_failed(what: str, endpoint: str, error: BaseException) -> HubRequestError:
    """One line for a failed request: what we were doing, the endpoint, and what the Hub (or network) said."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(error, HfHubHTTPError) and error.response is not None:
        detail = " ".join((error.server_message or "").split()) or one_line(error)
        return HubRequestError(f"{what}: the Hub at {endpoint} answered {error.response.status_code}: {detail}")
    if is_timeout(error):
        return HubTimeoutError(f"{what}: the Hub at {endpoint} did not answer within {hub_timeout():g} s "
                               f"(set {TIMEOUT_ENV} to wait longer)")
    return HubRequestError(f"{what}: cannot reach the Hub at {endpoint} ({one_line(error)})")
