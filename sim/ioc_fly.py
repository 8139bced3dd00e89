"""The IOC's fly controller: position capture along a commanded segment (``P:fly:*``).

It plays the part of a PandABox doing position capture (or a scaler with
channel advance) together with a motion controller running a trajectory: the
client writes the segment, velocity and sample period, puts 1 to ``kickoff``
and, once ``count`` has gone up, reads the captured waveforms.

PVs (``F`` = ``<prefix>fly:``):

- ``F x_start``, ``F y_start``, ``F x_end``, ``F y_end``: first and last
  sample centres, motor units; ``F velocity``: speed along the line, units/s;
  ``F period``: seconds per sample (the dwell).
- ``F kickoff``: put 1 to fly (the put completes once the flight has started,
  or at once with ``state`` = ``error`` and the reason in ``message``).
  ``F stop``: put 1 to abort a flight (the stage stops where it is).
- ``F busy`` (1 while flying), ``F state`` (idle, flying, done, stopped,
  error), ``F message``, ``F count`` (flights finished, +1 each),
  ``F duration`` (modelled seconds of the last flight).
- Captured, valid for ``F npts`` samples: ``F x``, ``F y`` (mean position
  during each sample), ``F time`` (seconds from kickoff to the middle of each
  sample), ``F values`` (the detector reading). A stopped flight keeps the
  samples it finished. Over element maps, ``values`` is the total counts and
  each element's counts go to ``<prefix>xrf:C1:ROI<k>:TS`` (same samples).
- ``F time_scale``: real seconds per modelled second (0: no waiting).

Motion follows :class:`fastscan.sim.fly_motion.FlyProfile` (move to the
run-up point, accelerate, constant velocity through the capture window,
decelerate) with the motors' own velocity, acceleration and soft limits; the
motor records' readbacks follow the profile while it runs.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np
from caproto import ChannelType
from caproto.server import PVGroup, pvproperty

from fastscan.sim.fly_motion import FlyProfile, check_flight, fly_capture

__all__ = ["FlyController"]

MAX_SAMPLES = 4096


class FlyController(PVGroup):
    """Fly segments with position capture; a SubGroup of :class:`NanoprobeIOC`."""

    x_start = pvproperty(name="x_start", value=0.0, precision=6)
    y_start = pvproperty(name="y_start", value=0.0, precision=6)
    x_end = pvproperty(name="x_end", value=0.0, precision=6)
    y_end = pvproperty(name="y_end", value=0.0, precision=6)
    velocity = pvproperty(name="velocity", value=1.0, precision=6, doc="units/s along the line")
    period = pvproperty(name="period", value=0.01, precision=6, doc="seconds per sample")
    time_scale = pvproperty(name="time_scale", value=1.0, doc="real s per modelled s")
    kickoff = pvproperty(name="kickoff", value=0, doc="put 1 to fly")
    stop = pvproperty(name="stop", value=0, doc="put 1 to abort the flight")
    busy = pvproperty(name="busy", value=0, read_only=True)
    state = pvproperty(name="state", value="idle", read_only=True, dtype=ChannelType.STRING)
    message = pvproperty(
        name="message", value="", dtype=ChannelType.CHAR, max_length=400,
        read_only=True,
    )  # fmt: skip
    count = pvproperty(name="count", value=0, read_only=True)
    duration = pvproperty(name="duration", value=0.0, precision=6, read_only=True)
    npts = pvproperty(name="npts", value=0, read_only=True)
    x = pvproperty(name="x", value=[0.0] * MAX_SAMPLES, max_length=MAX_SAMPLES, read_only=True)
    y = pvproperty(name="y", value=[0.0] * MAX_SAMPLES, max_length=MAX_SAMPLES, read_only=True)
    time = pvproperty(name="time", value=[0.0] * MAX_SAMPLES, max_length=MAX_SAMPLES,
                      read_only=True)  # fmt: skip
    values = pvproperty(name="values", value=[0.0] * MAX_SAMPLES, max_length=MAX_SAMPLES,
                        read_only=True)  # fmt: skip

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial_time_scale = 1.0
        self._task: asyncio.Task | None = None

    @time_scale.startup
    async def time_scale(self, instance, async_lib) -> None:
        await instance.write(self.initial_time_scale)

    # ------------------------------------------------------------------ checks
    def _profile(self) -> FlyProfile:
        ioc = self.parent
        x_motor, y_motor = ioc.x, ioc.y
        profile = FlyProfile(
            start=(self.x_start.value, self.y_start.value),
            end=(self.x_end.value, self.y_end.value),
            velocity=float(self.velocity.value),
            period=float(self.period.value),
            acceleration=(x_motor.acceleration, y_motor.acceleration),
            move_velocity=(x_motor.velocity, y_motor.velocity),
            origin=(x_motor.position, y_motor.position),
        )
        check_flight(
            profile,
            velocity_limit=(x_motor.velocity, y_motor.velocity),
            travel=(x_motor.soft_limits, y_motor.soft_limits),
            max_samples=MAX_SAMPLES,
        )
        if ioc.disconnected:
            raise ValueError("the detector is disconnected (fault)")
        return profile

    # ------------------------------------------------------------------ putters
    @kickoff.putter
    async def kickoff(self, instance, value):
        if not value:
            return 0
        if self.busy.value:
            await self._report("error", "kickoff while a flight is running; put stop first")
            return 0
        try:
            profile = self._profile()
        except ValueError as exc:
            await self._report("error", str(exc))
            return 0
        await self.busy.write(1)
        await self._report("flying", "")
        self._task = asyncio.get_running_loop().create_task(self._fly(profile))
        return 0

    @stop.putter
    async def stop(self, instance, value):
        if value and self._task is not None and not self._task.done():
            self._task.cancel()
        return 0

    async def _report(self, state: str, message: str) -> None:
        await self.message.write(message[:399])
        await self.state.write(state)

    # ------------------------------------------------------------------ flight
    async def _fly(self, profile: FlyProfile) -> None:
        ioc = self.parent
        motors = (ioc.x, ioc.y)
        truth = ioc.image if ioc.maps is None else ioc.maps  # element maps: per-element capture
        capture = fly_capture(
            truth, ioc.grid, profile, noise=ioc.noise, counts_scale=ioc.counts_scale, rng=ioc.rng,
        )  # fmt: skip
        values, channel_values = capture.values, capture.channel_values
        if ioc.det_nan.value:
            values = np.full_like(values, np.nan)
            if channel_values is not None:
                channel_values = np.full_like(channel_values, np.nan)
        scale = float(self.time_scale.value)
        loop = asyncio.get_running_loop()
        state, t = "done", profile.duration
        t0 = loop.time()
        try:
            for motor in motors:
                await motor.begin_external_motion()
            if scale > 0 and math.isfinite(scale):
                t0 = loop.time()
                tick = min(m.tick for m in motors)
                while (elapsed := (loop.time() - t0) / scale) < profile.duration:
                    for motor, p in zip(motors, profile.position_at(elapsed)):
                        await motor.set_position(p)
                    await asyncio.sleep(min(tick, (profile.duration - elapsed) * scale))
        except asyncio.CancelledError:
            state = "stopped"
            if scale > 0 and math.isfinite(scale):
                t = min((loop.time() - t0) / scale, profile.duration)
        end = profile.position_at(t)
        for motor, p in zip(motors, end):
            await motor.set_position(p)
            await motor.end_external_motion()
        # a stopped flight keeps the samples it finished (as position capture would)
        sample_ends = capture.time + 0.5 * profile.period
        n = int(np.searchsorted(sample_ends, t + 1e-12, side="right"))
        if n:
            revealed = capture.revealed(n)  # the IOC's record (P:det:asked)
            ioc.asked_mask[revealed[:, 0], revealed[:, 1]] = True
            for pv, data in ((self.x, capture.x), (self.y, capture.y),
                             (self.time, capture.time), (self.values, values)):  # fmt: skip
                await pv.write(np.asarray(data[:n], dtype=float).tolist())
            if channel_values is not None:  # the element ROIs' time series (P:xrf:C1:ROI<k>:TS)
                await ioc.xrf.write_time_series(channel_values[:n])
        await self.npts.write(n)
        await self.duration.write(float(t))
        await self._report(state, "" if state == "done" else "stopped before the end")
        await self.count.write(self.count.value + 1)
        await self.busy.write(0)  # last: busy 0 means this flight is counted
