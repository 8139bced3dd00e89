"""Steps of the autonomous scan: move, measure, fault descriptions, run metadata helpers.

``measure`` is ``bps.trigger_and_read`` with a timeout on the trigger; ``move``
moves both axes together with a timeout and, when a move fails, stops what is
still moving and collects the other axis' failure (bluesky throws *any* failed
status into the plan at its next message) so the first, informative error wins.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from bluesky import plan_stubs as bps
from bluesky import preprocessors as bpp
from bluesky.utils import RunEngineControlException, short_uid

from fastscan.jsonsafe import to_jsonable

__all__ = ["MoveError", "close_run_after", "device_label", "explain", "jsonable", "measure",
           "model_info", "motion_info", "move", "n_measured", "open_run_closing",
           "source_of"]  # fmt: skip

logger = logging.getLogger("fastscan.plans")


def device_label(obj: Any) -> str:
    """'name (PV prefix)' where the device has an EPICS prefix or PV name."""
    pv = getattr(obj, "prefix", "") or getattr(obj, "pvname", "")
    return f"{obj.name} (PV {pv})" if pv else str(obj.name)


def source_of(detectors: Sequence[Any], key: str) -> str:
    for det in detectors:
        try:
            desc = det.describe()
        except Exception:  # a disconnected device may not describe itself
            continue
        if key in desc:
            return str(desc[key].get("source", key))
    return key


def explain(exc: BaseException) -> str:
    """Exception text, plus the cause a failed Status carries (ophyd keeps it there)."""
    text = f"{type(exc).__name__}: {exc}"
    status = exc.args[0] if exc.args else None
    get_inner = getattr(status, "exception", None)
    if callable(get_inner) and getattr(status, "done", False):
        try:
            inner = get_inner()
        except Exception:
            inner = None
        if inner is not None:
            text += f" ({type(inner).__name__}: {inner})"
    return text


def measure(readables: Sequence[Any], timeout: float | None, stream: str = "primary"):
    """Trigger (with a timeout), then read everything into one event; returns the readings."""
    group = short_uid("trigger")
    triggered = False
    for obj in readables:
        if hasattr(obj, "trigger"):
            yield from bps.trigger(obj, group=group)
            triggered = True
    if triggered:
        yield from bps.wait(group=group, timeout=timeout)
    yield from bps.create(stream)

    def read_all():
        readings: dict[str, Any] = {}
        for obj in readables:
            reading = yield from bps.read(obj)
            if reading is not None:
                readings.update(reading)
        return readings

    def drop(exc: Exception):
        yield from bps.drop()
        raise exc

    return (yield from bpp.contingency_wrapper(read_all(), except_plan=drop, else_plan=bps.save))


def move(x_motor: Any, x: float, y_motor: Any, y: float, timeout: float | None):
    group = short_uid("move")
    statuses: list[tuple[Any, Any]] = []
    try:
        for motor, target in ((x_motor, x), (y_motor, y)):
            statuses.append((motor, None))  # named if its set() itself raises (limits)
            statuses[-1] = (motor, (yield from bps.abs_set(motor, target, group=group)))
        yield from bps.wait(group=group, timeout=timeout)
    except RunEngineControlException:
        raise
    except Exception as exc:
        stuck = [
            device_label(m) for m, st in statuses if st is None or not st.done or not st.success
        ]
        yield from settle(statuses)
        stuck += [
            device_label(m)
            for m, st in statuses
            if st is not None and st.done and not st.success and device_label(m) not in stuck
        ]
        what = ", ".join(stuck) or f"{device_label(x_motor)}/{device_label(y_motor)}"
        raise MoveError(f"{what} did not finish the move: {explain(exc)}") from exc


def settle(statuses: list[tuple[Any, Any]], patience: float = 1.0):
    """After a failed move: stop axes still moving and let every move status end here.

    The RunEngine throws *any* failed status into the plan at its next message;
    collecting the other axis' failure here keeps the first, informative error.
    """
    for motor, st in statuses:
        if st is not None and not st.done and hasattr(motor, "stop"):
            try:
                yield from bps.stop(motor)
            except RunEngineControlException:
                raise
            except Exception as exc:  # e.g. a disconnected motor
                logger.warning("could not stop %s: %s", device_label(motor), exc)
    deadline = time.monotonic() + patience
    pending = True
    while pending:
        pending = any(st is not None and not st.done for _, st in statuses)
        try:
            yield from bps.sleep(0.02)
        except RunEngineControlException:
            raise
        except Exception as exc:  # the other axis' failure, already reported
            logger.debug("further move failure after the first: %s", exc)
        if time.monotonic() > deadline:
            break


class MoveError(RuntimeError):
    pass


def model_info(sampler: Any) -> dict[str, Any]:
    """``{"name", "sha256"}`` of the sampler's ERD model (None for both without a model).

    Uses ``model.name`` and ``model.sha256`` where the model has them; otherwise
    the name is the model's file (``source``) or class, and the digest is computed
    here over its arrays (sorted names, then bytes).
    """
    model = getattr(sampler, "model", None)
    if model is None:
        return {"name": None, "sha256": None}
    name = getattr(model, "name", None) or getattr(model, "source", None) or type(model).__name__
    digest = getattr(model, "sha256", None)
    if callable(digest):
        digest = digest()
    if not isinstance(digest, str):
        digest = _array_digest(model)
    return {"name": str(name), "sha256": digest}


def _array_digest(model: Any) -> str | None:
    try:
        arrays = model.to_arrays()
    except Exception:  # a model without arrays
        return None
    digest = hashlib.sha256()
    for key in sorted(arrays):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return digest.hexdigest()


def motion_info(sampler: Any) -> dict[str, Any] | None:
    """The sampler's stage motion model as a dict (``dataclasses.asdict``), or None."""
    motion = getattr(sampler, "motion", None)
    return dataclasses.asdict(motion) if dataclasses.is_dataclass(motion) else None


def n_measured(sampler: Any) -> int:
    """Pixels measured so far, without counting the whole mask when the sampler knows."""
    count = getattr(sampler, "n_measured", None)
    if isinstance(count, (int, np.integer)):
        return int(count)
    return int(np.count_nonzero(sampler.measured_mask))


def jsonable(value: Any) -> Any:
    """Run metadata as strict JSON values (see :func:`fastscan.jsonsafe.to_jsonable`)."""
    return to_jsonable(value)


def close_run_after(exc: Exception):
    """``except_plan`` for ``bpp.contingency_wrapper``: close the open run and say why.

    A pause/stop/abort request keeps its own exit status; any other error closes the
    run as failed with the error's text as the reason.
    """
    from bluesky import plan_stubs as bps
    from bluesky.utils import RunEngineControlException

    if isinstance(exc, RunEngineControlException):
        yield from bps.close_run(exit_status=getattr(exc, "exit_status", "abort"))
    else:
        yield from bps.close_run(exit_status="fail", reason=str(exc))


def open_run_closing(run_md: dict[str, Any], body: Any, summary: Any):
    """Open a run, run ``body`` in it and close it (failed/aborted runs say why).

    ``summary`` gets the run uid appended to ``run_uids`` and ``elapsed_s`` set, also
    when the body raises.
    """
    import time

    from bluesky import plan_stubs as bps
    from bluesky import preprocessors as bpp

    start = time.monotonic()
    uid = yield from bps.open_run(run_md)
    summary.run_uids.append(uid)
    try:
        yield from bpp.contingency_wrapper(
            body, except_plan=close_run_after, else_plan=bps.close_run
        )
    finally:
        summary.elapsed_s = time.monotonic() - start
