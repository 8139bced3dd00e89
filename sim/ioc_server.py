"""Serve the simulated IOC with caproto's asyncio server, tuned for loopback tests.

Sets TCP_NODELAY on every client socket (without it, put-with-callback round
trips wait for delayed ACKs) and can withdraw PVs (the detector-disconnect
fault). SIGINT (Ctrl-C) and SIGTERM stop it cleanly: :func:`serve` closes its
sockets and returns the signal's name, and :func:`stopped_line` says so.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys

from caproto.asyncio.server import Context as _AsyncioContext

from fastscan.sim.ioc_process import READY
from fastscan.sim.ioc_records import NanoprobeIOC

__all__ = ["STOP_SIGNALS", "Context", "NoBeaconErrors", "port_note", "serve", "stopped_line"]

#: The signals that stop :func:`serve` cleanly (Ctrl-C, and what ``kill`` sends).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Context(_AsyncioContext):
    """caproto asyncio server context with TCP_NODELAY and PV withdrawal."""

    async def tcp_handler(self, client, addr):
        sock = client.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return await super().tcp_handler(client, addr)

    async def drop_pvs(self, names: list[str]) -> None:
        """Stop serving ``names`` and tell connected clients those channels are gone."""
        await asyncio.sleep(0.05)  # let the triggering put complete first
        wanted = set(names)
        for name in names:
            self.pvdb.pop(name, None)
        for circuit in list(self.circuits):
            for chan in list(circuit.circuit.channels.values()):
                if chan.name in wanted:
                    try:
                        await circuit.send(chan.disconnect())
                    except Exception as exc:  # a client that is itself going away
                        self.log.warning("could not disconnect %s: %s", chan.name, exc)


async def serve(ioc: NanoprobeIOC, interfaces: list[str]) -> str | None:
    """Serve ``ioc`` on ``interfaces`` until SIGINT or SIGTERM.

    Prints the READY line once it listens. A signal of :data:`STOP_SIGNALS`
    cancels the server, which closes its sockets before this returns.

    Returns
    -------
    str or None
        The name of the signal that stopped it (``"SIGINT"``, ``"SIGTERM"``);
        None if the server ended by itself.
    """
    ctx = Context(ioc.pvdb, interfaces)
    ioc.context = ctx

    async def announce(async_lib):
        await asyncio.sleep(0.05)
        note = port_note(ctx.port, int(os.environ.get("EPICS_CA_SERVER_PORT", "5064")))
        if note is not None:
            print(note, file=sys.stderr, flush=True)
        print(f"{READY} port={ctx.port}", flush=True)

    loop = asyncio.get_running_loop()
    server = loop.create_task(ctx.run(log_pv_names=False, startup_hook=announce))
    received: list[str] = []

    def on_signal(signum: signal.Signals) -> None:
        received.append(signum.name)
        server.cancel()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await server  # caproto's run returns once cancelled, its sockets closed
    except asyncio.CancelledError:
        if not received:  # cancelled from outside, not by a signal
            raise
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    return received[0] if received else None


def stopped_line(
    signal_name: str | None, prefix: str, interfaces: list[str], port: int | None
) -> str:
    """The one line the IOC prints when it stops: why, and what it served.

    Examples
    --------
    >>> stopped_line("SIGTERM", "SIM:", ["127.0.0.1"], 5094)
    'python -m fastscan.sim.ioc stopped (SIGTERM); it served prefix SIM: on 127.0.0.1 port 5094'
    """
    why = f" ({signal_name})" if signal_name else ""
    where = " ".join(interfaces) + (f" port {port}" if port is not None else "")
    return f"python -m fastscan.sim.ioc stopped{why}; it served prefix {prefix} on {where}"


def port_note(served: int, asked: int) -> str | None:
    """A warning when caproto served another TCP port than asked (None when it did not).

    caproto quietly falls back to a free port when ``EPICS_CA_SERVER_PORT``
    (``--port``) is taken, usually by another IOC. Off loopback the clients' UDP
    search still finds this IOC; on loopback (unicast to 127.0.0.1) each search
    reaches one of the two, so PVs go "not found" at random.

    Examples
    --------
    >>> port_note(5094, 5094) is None
    True
    """
    if served == asked:
        return None
    return (
        f"warning: port {asked} (EPICS_CA_SERVER_PORT / --port) is taken, probably by another "
        f"IOC; this one serves TCP port {served}. On loopback clients then find either IOC at "
        "random: stop the other one or choose a free --port"
    )


class NoBeaconErrors(logging.Filter):
    """Without a CA repeater on the beacon port every beacon fails; that is harmless here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to send beacon")
