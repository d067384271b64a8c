"""A Hub-compatible HTTP server for tests (see ``server.py``)."""

from .server import Fault, HubServer, RequestRecord

__all__ = ["Fault", "HubServer", "RequestRecord"]
