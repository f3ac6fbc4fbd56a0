"""The shared clock: this host's clock plus the offset measured against the database's."""

from __future__ import annotations

from tokenops.clock import Clock


class Wall:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_offset_comes_from_the_reading_with_the_shortest_round_trip() -> None:
    wall = Wall(1000.0)
    trips = iter([0.200, 0.002, 0.050])  # seconds each reading takes; the database is 5 s ahead of this host

    async def read() -> int:
        trip = next(trips)
        wall.now += trip / 2
        reading = int((wall.now + 5.0) * 1000)
        wall.now += trip / 2
        return reading

    clock = Clock(wall)
    await clock.sync(read)
    assert clock.offset_ms == 5000 and clock.error_ms is not None and round(clock.error_ms, 6) == 1.0
    assert clock.now_ms() == int((wall.now + 5.0) * 1000)


async def test_an_asymmetric_slow_reading_is_not_trusted_over_a_fast_one() -> None:
    wall = Wall(50.0)
    readings = iter([(0.001, 0.299), (0.0005, 0.0005), (0.3, 0.0)])  # (before, after) the database reads its clock

    async def read() -> int:
        before, after = next(readings)
        wall.now += before
        reading = int(wall.now * 1000) - 2000  # the database is 2 s behind
        wall.now += after
        return reading

    clock = Clock(wall)
    await clock.sync(read)
    assert clock.offset_ms == -2000


async def test_without_a_shared_clock_the_host_clock_is_the_clock() -> None:
    async def none() -> None:
        return None

    clock = Clock(Wall(123.456))
    await clock.sync(none)
    assert clock.offset_ms == 0 and clock.error_ms is None and clock.now_ms() == 123456
