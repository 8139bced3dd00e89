"""A simulated EPICS motor record (caproto) with trapezoidal motion.

Serves the motor-record fields Ophyd's ``EpicsMotor`` uses (.VAL, .RBV, .DRBV,
.DMOV, .MOVN, .VELO, .ACCL, .HLM, .LLM, .HLS, .LLS, .TDIR, .STOP, .EGU). A put
to .VAL starts a move from the current readback: accelerate at
``VELO / ACCL`` (ACCL is the motor record's seconds-to-velocity), cruise at
VELO, decelerate; .RBV is updated every ``tick`` seconds while moving and is
exactly the target at the end. A new .VAL during a move starts over from where
the motor is; .STOP ends the move where it is.

Soft limits (.LLM/.HLM, also served as .VAL's control limits so clients can
check them) stop a move at the limit with the limit switch (.LLS/.HLS) set.
Fault injection (the IOC's fault PVs) sets :attr:`SimMotor.stall` (moves never
finish) or :attr:`SimMotor.hit_limit` (the next move stops at once on a limit
switch).
"""

from __future__ import annotations

import asyncio
import math

from caproto.server import PVGroup, pvproperty

__all__ = ["SimMotor", "trapezoid_position"]


def trapezoid_position(t: float, distance: float, velocity: float, accel: float) -> float:
    """Distance travelled after ``t`` seconds of a rest-to-rest move of ``distance`` (>= 0)."""
    if distance <= 0:
        return 0.0
    if not math.isfinite(accel) or accel <= 0:
        return min(distance, velocity * t)
    t_acc = velocity / accel
    if distance < velocity * t_acc:  # triangle profile: never reaches full speed
        t_acc = math.sqrt(distance / accel)
        velocity = accel * t_acc
    d_acc = 0.5 * accel * t_acc * t_acc
    t_cruise = (distance - 2 * d_acc) / velocity
    if t <= t_acc:
        return 0.5 * accel * t * t
    if t <= t_acc + t_cruise:
        return d_acc + velocity * (t - t_acc)
    t_dec = min(t - t_acc - t_cruise, t_acc)
    return min(distance, d_acc + velocity * t_cruise + velocity * t_dec - 0.5 * accel * t_dec**2)


def move_duration(distance: float, velocity: float, accel: float) -> float:
    distance = abs(distance)
    if distance == 0:
        return 0.0
    if not math.isfinite(accel) or accel <= 0:
        return distance / velocity
    if distance >= velocity * velocity / accel:
        return distance / velocity + velocity / accel
    return 2.0 * math.sqrt(distance / accel)


class SimMotor(PVGroup):
    """One simulated motor record at ``<prefix>`` (the group's prefix is the record name)."""

    motor = pvproperty(value=0.0, name="", record="motor", precision=6)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.velocity = 100.0
        self.acceleration = 10000.0
        self.accel_time = 0.01
        self.limits = (-1e9, 1e9)
        self.position = 0.0
        self.tick = 0.005
        self.stall = False
        self.hit_limit = False
        self._task: asyncio.Task | None = None
        self._internal_write = False

    def configure(self, *, velocity: float, acceleration: float, limits: tuple[float, float],
                  position: float = 0.0, tick: float = 0.005) -> None:  # fmt: skip
        """Set before the server starts: speed (units/s), acceleration (units/s^2), limits."""
        if not velocity > 0:
            raise ValueError(f"velocity must be > 0, got {velocity!r}")
        if not acceleration > 0:
            raise ValueError(f"acceleration must be > 0 (inf for instant), got {acceleration!r}")
        self.velocity = float(velocity)
        self.acceleration = float(acceleration)
        self.accel_time = 0.0 if math.isinf(acceleration) else float(velocity) / acceleration
        self.limits = (float(limits[0]), float(limits[1]))
        self.position = float(position)
        self.tick = float(tick)

    @property
    def fields(self):
        return self.motor.field_inst

    @motor.startup
    async def motor(self, instance, async_lib) -> None:
        f = self.fields
        low, high = self.limits
        await instance.write_metadata(lower_ctrl_limit=low, upper_ctrl_limit=high)
        await f.velocity.write(self.velocity)
        await f.seconds_to_velocity.write(self.accel_time)
        await f.user_low_limit.write(low)
        await f.user_high_limit.write(high)
        await f.engineering_units.write("mm")
        await self._set_position(self.position)
        self._internal_write = True
        try:
            await instance.write(self.position)
        finally:
            self._internal_write = False
        await f.done_moving_to_value.write(1)
        await f.motor_is_moving.write(0)

        async def on_value(_instance, value):
            if self._internal_write:
                return
            if self._task is not None and not self._task.done():
                self._task.cancel()
            self._task = asyncio.get_running_loop().create_task(self._move(float(value)))

        f.value_write_hook = on_value

    @motor.fields.stop.putter
    async def _stop_put(fields, instance, value):
        group = fields.parent.group
        if value and group._task is not None and not group._task.done():
            group._task.cancel()
            await group._finish(success=True)
        return 0

    @motor.fields.user_high_limit.putter
    async def _hlm_put(fields, instance, value):
        await fields.parent.write_metadata(upper_ctrl_limit=value)
        return value

    @motor.fields.user_low_limit.putter
    async def _llm_put(fields, instance, value):
        await fields.parent.write_metadata(lower_ctrl_limit=value)
        return value

    @property
    def soft_limits(self) -> tuple[float, float]:
        """(low, high) soft limits as the clients set them (.LLM, .HLM)."""
        return float(self.fields.user_low_limit.value), float(self.fields.user_high_limit.value)

    async def begin_external_motion(self) -> None:
        """Another controller (the fly controller) drives this axis: stop any move, DMOV 0."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        for switch in (self.fields.user_high_limit_switch, self.fields.user_low_limit_switch):
            if switch.value:
                await switch.write(0)
        await self.fields.done_moving_to_value.write(0)
        await self.fields.motor_is_moving.write(1)

    async def set_position(self, position: float) -> None:
        """Update the readbacks (.RBV, .DRBV) to ``position``."""
        await self._set_position(float(position))

    async def end_external_motion(self) -> None:
        """The external move is over: .VAL follows the readback, DMOV 1."""
        await self._finish(success=True)

    async def _set_position(self, position: float) -> None:
        self.position = position
        await self.fields.user_readback_value.write(position)
        await self.fields.dial_readback_value.write(position)

    async def _finish(self, *, success: bool) -> None:
        if self.motor.value != self.position:  # VAL follows where the motor stopped
            self._internal_write = True
            try:
                await self.motor.write(self.position)
            finally:
                self._internal_write = False
        await self.fields.motor_is_moving.write(0)
        await self.fields.done_moving_to_value.write(1)

    async def _move(self, target: float) -> None:
        f = self.fields
        start = self.position
        low, high = float(f.user_low_limit.value), float(f.user_high_limit.value)
        goal = target
        if high > low:
            goal = min(max(target, low), high)
        # write only what changes: every write is a monitor update to each client
        for switch in (f.user_high_limit_switch, f.user_low_limit_switch):
            if switch.value:
                await switch.write(0)
        direction = 1 if target >= start else 0
        if f.direction_of_travel.value != direction:
            await f.direction_of_travel.write(direction)
        await f.done_moving_to_value.write(0)
        await f.motor_is_moving.write(1)
        if self.stall:  # fault: the motor never gets there (until STOP or a new move)
            await asyncio.Event().wait()
        if self.hit_limit:
            goal = start
        distance = abs(goal - start)
        sign = 1.0 if goal >= start else -1.0
        velocity = float(f.velocity.value)
        if not velocity > 0:
            velocity = self.velocity
        accel_time = float(f.seconds_to_velocity.value)
        accel = velocity / accel_time if accel_time > 0 else math.inf
        duration = move_duration(distance, velocity, accel)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        while True:
            elapsed = loop.time() - t0
            if elapsed >= duration:
                break
            await self._set_position(
                start + sign * trapezoid_position(elapsed, distance, velocity, accel)
            )
            await asyncio.sleep(min(self.tick, duration - elapsed))
        await self._set_position(goal)
        if goal != target or self.hit_limit:
            switch = f.user_high_limit_switch if target >= start else f.user_low_limit_switch
            await switch.write(1)
        await self._finish(success=goal == target)
