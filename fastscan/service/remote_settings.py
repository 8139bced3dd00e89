"""RemoteSampler settings changed after construction: applied, or refused, never ignored.

A mixin for :class:`fastscan.service.remote.RemoteSampler` (made by
:class:`fastscan._settable.SettableMeta`, which records the arguments it was made
with). ``rs.max_coverage = 0.3`` used to set an attribute nothing read: the scan's
settings live in the service's session, made when the RemoteSampler attached.

- The client's own settings (:data:`CLIENT_KNOBS`: ``timeout``, ``retries``,
  ``fallback``, ``prefetch``, ``reconnect_interval``, ``restore_timeout``) are read at
  each request, so they may change at any time (checked as the constructor checks them).
- Any other setting (a Sampler option such as ``max_coverage``, or ``shape``,
  ``session``, ``address``, a CurveZMQ key), before the first reading, re-opens the
  session: the empty session this client made is closed on the service and the
  RemoteSampler is made again in place, exactly as if the value had been given to the
  constructor (nothing is lost: the session held no batches). A value the service
  refuses raises as the constructor would (a ValueError naming it, from the service's
  own check) and the session is made again with the old settings. A session this
  client attached to (made earlier, or by another client) is not closed: the change
  is refused with a ValueError saying how to make a new one; while the service is
  unreachable it is refused with :class:`ServiceUnavailable`.
- Once readings are in, such a setting is refused with a ValueError naming it: the
  protocol has no operation that changes a running session's settings (not even the
  stop knobs a local :class:`fastscan.Sampler` takes mid-scan), and the scan so far was
  made with the old value.
"""

from __future__ import annotations

from typing import Any

from fastscan._settable import _GIVEN, constructor_names
from fastscan.service.client import _SAMPLER_DEFAULTS, ServiceUnavailable
from fastscan.service.remote_options import SESSION_OPTIONS, describe_unknown

__all__ = ["CLIENT_KNOBS", "RemoteSettings"]

#: settings of the client itself, read at each request: settable at any time
CLIENT_KNOBS = frozenset(
    {"timeout", "retries", "fallback", "prefetch", "reconnect_interval", "restore_timeout"}
)


class RemoteSettings:
    """``set_params`` and attribute writes of RemoteSampler settings (module docstring)."""

    session: str
    n_measured: int
    _log: list
    _attached: bool
    _created: bool
    _offline: bool
    _check_fallback: Any
    get_params: Any
    close: Any

    @classmethod
    def _client_names(cls) -> frozenset[str]:
        """The constructor's named arguments (``shape``, ``session``, ``timeout``, ...)."""
        return constructor_names(cls)

    @classmethod
    def _setting_names(cls) -> frozenset[str]:
        """The constructor's named arguments and the Sampler options the service accepts."""
        return cls._client_names() | SESSION_OPTIONS

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            name[0] != "_"
            and _GIVEN in self.__dict__
            and (name in self._setting_names() or name in _SAMPLER_DEFAULTS)  # (else refused)
        ):
            self.set_params(**{name: value})
        else:
            object.__setattr__(self, name, value)

    def set_params(self, **params: Any) -> Any:
        """Change settings; returns the RemoteSampler.

        The client's own settings (``timeout``, ``retries``, ``fallback``, ``prefetch``,
        ``reconnect_interval``, ``restore_timeout``) apply at once, at any time. Any
        other, before the first reading, re-opens this client's empty session with it
        (as if given to the constructor); once readings are in, or on a session this
        client did not make, it is refused.

        Raises
        ------
        TypeError
            For a name that is not a setting of RemoteSampler.
        ValueError
            For a bad value (the service's check included; the old settings are then
            restored), or a setting that cannot reach the service's session.
        ServiceUnavailable
            For a session setting while the service is unreachable.
        """
        cls = type(self)
        unknown = sorted(set(params) - cls._setting_names())
        if unknown:
            raise TypeError(
                f"{cls.__name__}.set_params got unknown settings {unknown}: "
                f"{describe_unknown(unknown, cls._client_names())}"
            )
        session = sorted(set(params) - CLIENT_KNOBS)
        if session:
            self._check_reopen(session[0], params[session[0]])
            self._reopen(params)
            return self
        old = {name: getattr(self, name) for name in params}
        try:
            for name, value in params.items():
                self._set_client_knob(name, value)
        except ValueError:
            for name, value in old.items():
                object.__setattr__(self, name, value)
            raise
        object.__setattr__(self, _GIVEN, {**self.__dict__[_GIVEN], **params})
        return self

    def _set_client_knob(self, name: str, value: Any) -> None:
        """One of :data:`CLIENT_KNOBS`, checked as the constructor checks it."""
        if name == "fallback":
            self._check_fallback(value)
        elif name in ("reconnect_interval", "restore_timeout"):
            value = float(value)
        elif name == "prefetch":
            value = bool(value)
        object.__setattr__(self, name, value)  # (timeout, retries: checking properties)

    def _check_reopen(self, name: str, value: Any) -> None:
        """Refuse a session setting the service's session cannot take now."""
        cls = type(self).__name__
        new = f"make a new {cls}(..., session=<a new name>, {name}={value!r})"
        if self._log:
            raise ValueError(
                f"{name} cannot change once readings are in ({self.n_measured} measured): "
                f"session {self.session!r} on the service was made with {name}="
                f"{self._reported(name)!r} and the service cannot change a running "
                f"session's settings; {new} for a new scan"
            )
        if not self._attached:
            return  # the service has not answered yet: no session of ours to close
        if not self._created:
            raise ValueError(
                f"{name} cannot change here: session {self.session!r} was not made by this "
                f"{cls} (it attached to an existing one), so it is not closed; close it "
                f"with close(end_session=True) and {new}"
            )
        if self._offline:
            raise ServiceUnavailable(
                f"{name} cannot change while the service is unreachable (session "
                f"{self.session!r} is re-opened on it with the new settings)"
            )

    def _reported(self, name: str) -> Any:
        """``name``'s value as the session reports it (else as this client was made)."""
        params = self.get_params()
        return params[name] if name in params else self.__dict__[_GIVEN].get(name)

    def _reopen(self, params: dict[str, Any]) -> None:
        """Close this client's empty session and make the RemoteSampler again with
        ``params`` (with the old settings again when that fails)."""
        old = dict(self.__dict__[_GIVEN])
        given = {**old, **params}
        self.close(end_session=self._attached)
        self.__dict__.clear()  # (nothing routed while the constructor runs again)
        try:
            type(self).__init__(self, **given)
        except BaseException:
            self.__dict__.clear()
            type(self).__init__(self, **old)
            object.__setattr__(self, _GIVEN, old)
            raise
        object.__setattr__(self, _GIVEN, given)
