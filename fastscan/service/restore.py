"""Rebuild a session's sampler from its snapshot and journal, in a background thread.

A :class:`RestoreJob` loads the snapshot with the service's own ERD model
(:func:`load_sampler`), refuses a state made with another model, then applies
the journal's batches that follow the snapshot, in ``seq`` order. The service
answers ``busy`` for the session meanwhile. :meth:`RestoreJob.cancel` stops a
job whose session was replaced or closed: it stops between batches and its
result is thrown away.
"""

from __future__ import annotations

import inspect
import threading
from pathlib import Path
from typing import Any

import numpy as np

from fastscan.erd.estimator import DEFAULT_MODEL, load_model
from fastscan.route import MotionModel
from fastscan.sampler import LATE_MODEL, MULTICHANNEL_MODEL, TEXTURE_MODEL, Sampler
from fastscan.service.journal import read_journal
from fastscan.service.persistence import read_state_log

__all__ = ["RestoreJob", "load_sampler", "same_model"]


def same_model(a: Any, b: Any) -> bool:
    """True when two ERD models make the same predictions (same SHA-256, or same arrays)."""
    if a is b:
        return True
    digest_a, digest_b = getattr(a, "sha256", None), getattr(b, "sha256", None)
    if isinstance(digest_a, str) and isinstance(digest_b, str):
        return digest_a == digest_b
    arrays_a, arrays_b = a.to_arrays(), b.to_arrays()
    return arrays_a.keys() == arrays_b.keys() and all(
        np.array_equal(np.asarray(arrays_a[k]), np.asarray(arrays_b[k])) for k in arrays_a
    )


def load_sampler(path: Path, model: Any) -> Sampler:
    """``Sampler.load(path)`` that keeps ``model`` (the service's own).

    ``model`` None is a service without a model of its own: its sessions choose
    the shipped models as an in-process :class:`~fastscan.Sampler` given no model
    does (:func:`_load_shipped_choice`).

    Raises ValueError when the state names another model: an uploaded state must
    not choose the model the service runs.
    """
    refusal = (
        "the state was made with another ERD model than the service's; the service only "
        "runs its own model (start it with that model, or scan afresh)"
    )
    fresh = _fresh_sampler(path, model)
    if fresh is not None:
        return fresh
    if model is None:
        return _load_shipped_choice(path, refusal)
    if "model" in inspect.signature(Sampler.load).parameters:
        try:
            sampler = Sampler.load(path, model=model)  # refuses another model's state
        except ValueError as exc:
            text = str(exc)
            if "SHA-256" not in text:
                raise
            detail = text.split(" was made with ", 1)[-1]  # not the temporary file's name
            raise ValueError(f"{refusal}: made with {detail}") from None
    else:  # a Sampler.load without the model argument rebuilds the file's own model
        sampler = Sampler.load(path)
    if not same_model(sampler.model, model):
        raise ValueError(refusal)
    sampler.model = model  # one model object shared by every session
    return sampler


def _load_shipped_choice(path: Path, refusal: str) -> Sampler:
    """Load a state for a service that lets each session choose the shipped models.

    A state whose sampler was given no model (``model_default``) keeps the shipped
    model its own rule chose (:data:`~fastscan.sampler.MULTICHANNEL_MODEL`,
    :data:`~fastscan.sampler.TEXTURE_MODEL` or, after the late switch,
    :data:`~fastscan.sampler.LATE_MODEL`) and goes on choosing. A state made with a
    fixed model (as every session was before the service let sessions choose)
    must have used the shipped default; it continues with it, never switching.
    """
    sampler = Sampler.load(path)
    if sampler._model_default:
        allowed = {DEFAULT_MODEL, MULTICHANNEL_MODEL, TEXTURE_MODEL, LATE_MODEL}
    else:
        allowed = {DEFAULT_MODEL}
    if not any(same_model(sampler.model, load_model(name)) for name in sorted(allowed)):
        raise ValueError(refusal)
    return sampler


def _fresh_sampler(path: Path, model: Any) -> Sampler | None:
    """A new Sampler with the file's settings when the state holds no readings, else None.

    A session's first snapshot is taken before any reading. A new sampler with the same
    settings is that state; loading it instead left an empty batch in the sampler's log,
    which its next snapshot recorded and ``Sampler.load`` then refused.
    """
    header, batches = read_state_log(path)
    if batches:
        return None
    params = dict(header["params"])
    shape = tuple(params.pop("shape"))
    params.setdefault("noise_cost", 0.0)  # as Sampler.load: made before the knob, the cost off
    accepted = inspect.signature(Sampler.__init__).parameters
    kwargs = {k: v for k, v in params.items() if k in accepted}
    if "pixel_pitch" in kwargs:
        kwargs["pixel_pitch"] = tuple(kwargs["pixel_pitch"])
    motion = header.get("motion")
    if motion is not None:
        kwargs["motion"] = MotionModel(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in motion.items()}
        )
    return Sampler(shape, model=model, **kwargs)


class RestoreJob:
    """Rebuild a Sampler from a state file (and journal) in a daemon thread.

    Parameters
    ----------
    path : Path
        Snapshot (:meth:`fastscan.Sampler.save` file).
    n_batches : int
        Batches in the snapshot.
    model : ERDModel or None
        The service's model; a state made with another one is refused. None: the
        sessions choose the shipped models themselves (:func:`load_sampler`).
    journal : Path or None
        Journal of later batches.
    temporary : bool
        ``path`` is an uploaded file: delete it when done, and save the session afterwards.
    """

    def __init__(
        self,
        path: Path,
        n_batches: int,
        *,
        model: Any,
        journal: Path | None = None,
        temporary: bool = False,
    ) -> None:
        self.path = path
        self.journal = journal
        self.model = model
        self.n_batches = n_batches
        self.snapshot_seq = n_batches
        self.save = temporary  # an uploaded state still has to reach state_dir
        self.temporary = temporary
        self.sampler: Sampler | None = None
        self.error: str | None = None
        self.done = threading.Event()
        self._cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, name="fastscan-restore", daemon=True)
        self.thread.start()

    def cancel(self) -> None:
        """Stop at the next batch and discard the result (the session was replaced)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def _run(self) -> None:
        try:
            sampler = load_sampler(self.path, self.model)
            expected = self.snapshot_seq + 1
            for seq, points, values in read_journal(self.journal) if self.journal else []:
                if self._cancel.is_set():
                    break
                if seq < expected:  # already in the snapshot
                    continue
                if seq != expected:
                    break
                sampler.ingest(points, values)
                expected += 1
            self.n_batches = expected - 1
            self.sampler = None if self._cancel.is_set() else sampler
        except Exception as exc:  # reported to the client that asks for the session
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            if self.temporary:
                self.path.unlink(missing_ok=True)
            self.done.set()
