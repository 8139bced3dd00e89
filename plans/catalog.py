"""Where runs go: a Tiled catalogue, embedded on this machine or a facility's server.

:func:`local_catalog` starts (once per directory and process) an embedded Tiled
server on loopback -- a SQLite catalogue (``catalog.db``), tabular data in
``storage.duckdb``, arrays under ``data/`` and the plan's HDF5 snapshot files
under ``assets/``, all inside ``directory`` -- and returns a stock tiled client
on it. The same directory reopens with every run of earlier sessions; the
server stops when the process ends. :func:`connect_catalog` is the same client
on a facility's Tiled server (URI and API key).

Examples
--------
>>> from fastscan.plans import local_catalog, tiled_writer  # doctest: +SKIP
>>> catalog = local_catalog("scans")  # doctest: +SKIP
>>> RE.subscribe(tiled_writer(catalog))  # doctest: +SKIP
>>> catalog[uid]["primary"].read()  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

__all__ = [
    "asset_directory",
    "close_local_catalogs",
    "connect_catalog",
    "local_catalog",
]

logger = logging.getLogger("fastscan.plans")

ASSETS = "assets"
_servers: dict[Path, Any] = {}  # resolved directory -> SimpleTiledServer
_lock = threading.Lock()
_default_assets: Path | None = None
# One API key for every embedded server of this process: tiled 0.2.20 keeps the single-user
# key in process-wide settings, so a second server would otherwise lock clients of the first out.
_API_KEY = secrets.token_hex(16)


#: seconds after which a server still starting says so on stderr
_SLOW_START_S = 5.0


def local_catalog(directory: str | os.PathLike[str] = "fastscan-data") -> Any:
    """A tiled client on an embedded Tiled server storing runs under ``directory``.

    Parameters
    ----------
    directory : path
        Created if missing; an existing catalogue there is reopened (its runs
        are all readable again). One server per directory and process: calling
        this again returns a new client on the same server.

    Returns
    -------
    tiled.client.container.Container
        The stock tiled client (``client[uid]``, ``client.search(...)``).

    Notes
    -----
    The server listens on 127.0.0.1 with a random port and a fresh API key,
    starts in a few seconds, and is shut down at interpreter exit (or by
    :func:`close_local_catalogs`). This also makes ``directory/assets`` the
    default place for the plan's snapshot files (see :func:`asset_directory`).

    Examples
    --------
    >>> catalog = local_catalog("scans")  # doctest: +SKIP
    >>> list(catalog)[-1]  # uid of the latest run  # doctest: +SKIP
    """
    from tiled.client import from_uri

    global _default_assets
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a path, got {directory!r}")
    path = Path(directory).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"catalogue directory {str(path)!r} is a file")
    with _lock:
        server = _servers.get(path)
        if server is None:
            server = _start_server(path)
            _servers[path] = server
        _default_assets = path / ASSETS
    return from_uri(server.uri)


def _start_server(path: Path) -> Any:
    from tiled.server import SimpleTiledServer

    from fastscan.slow_note import SlowNote

    (path / ASSETS).mkdir(parents=True, exist_ok=True)
    note = f"starting the embedded Tiled catalogue server for {path} (10-25 s when busy) ..."
    with SlowNote(note, _SLOW_START_S):
        server = SimpleTiledServer(path, api_key=_API_KEY, readable_storage=[path / ASSETS])
    if not _servers:
        _at_exit(close_local_catalogs)
    logger.info("embedded Tiled catalogue %s at %s", path, server.uri.split("?")[0])
    return server


def _at_exit(func: Any) -> None:
    """Run ``func`` at interpreter exit *before* non-daemon threads are joined.

    The embedded server runs in a non-daemon thread, which plain ``atexit``
    handlers would wait for forever (they run after the join).
    """
    try:
        threading._register_atexit(func)  # type: ignore[attr-defined]  # as concurrent.futures
    except (AttributeError, RuntimeError):  # another Python, or already shutting down
        atexit.register(func)


def close_local_catalogs() -> None:
    """Stop every embedded server this process started (also run at exit)."""
    global _default_assets
    with _lock:
        servers = list(_servers.items())
        _servers.clear()
        _default_assets = None
    for path, server in servers:
        try:
            server.close()
        except Exception:  # at exit: report, never hide the other servers' shutdown
            logger.exception("could not stop the Tiled server of %s", path)


def connect_catalog(uri: str, api_key: str | None = None) -> Any:
    """A tiled client on a running Tiled server (a facility's, or a local one).

    Parameters
    ----------
    uri : str
        e.g. ``"https://tiled.example.org/api/v1/metadata/my_beamline"``.
    api_key : str, optional
        Default: the ``TILED_API_KEY`` environment variable, else a login prompt
        (tiled's own behaviour).

    Examples
    --------
    >>> catalog = connect_catalog("https://tiled.example.org", api_key="secret")  # doctest: +SKIP
    """
    from tiled.client import from_uri

    if not isinstance(uri, str) or "://" not in uri:
        raise ValueError(f"uri must be an http(s) URI of a Tiled server, got {uri!r}")
    return from_uri(uri, api_key=api_key)


def asset_directory() -> Path:
    """Where snapshot files (HDF5) of the plan go by default.

    ``$FASTSCAN_ASSETS`` if set, else ``assets/`` of the local catalogue opened
    last in this process, else ``./fastscan-assets``. A facility server must be
    able to read this directory (pass ``asset_dir=`` to the snapshot otherwise).
    """
    env = os.environ.get("FASTSCAN_ASSETS")
    if env:
        return Path(env).expanduser().resolve()
    if _default_assets is not None:
        return _default_assets
    return Path("fastscan-assets").resolve()
