"""camscan/net/deadline.py: deadlines stand still while a call waits on local limits."""

from __future__ import annotations

import asyncio

import pytest

from camscan.net.deadline import deadline_scope, local_wait, on_local_wait


async def test_a_timeout_is_held_during_a_local_wait_and_moves_on_by_it() -> None:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(0.1) as cm:
        before = cm.when()
        assert before is not None
        with deadline_scope(cm):
            with local_wait():
                await asyncio.sleep(0.3)  # three times the timeout: held, it cannot fire
                assert cm.when() is None
        after = cm.when()
        assert after is not None and after >= before + 0.3
        assert after > loop.time()


async def test_time_outside_a_local_wait_still_counts() -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1) as cm:
            with deadline_scope(cm):
                with local_wait():
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)


async def test_every_registered_deadline_gets_the_wait() -> None:
    given: list[float] = []
    async with asyncio.timeout(5) as outer:
        with deadline_scope(outer), on_local_wait(given.append):
            start = outer.when()
            assert start is not None
            with local_wait():
                await asyncio.sleep(0.05)
            end = outer.when()
    assert len(given) == 1 and given[0] >= 0.05
    assert end is not None and end - start == pytest.approx(given[0])


async def test_a_nested_wait_leaves_the_outer_hold_in_place() -> None:
    async with asyncio.timeout(5) as cm:
        with deadline_scope(cm):
            with local_wait():
                with local_wait():
                    await asyncio.sleep(0)
                assert cm.when() is None  # the inner wait did not resume it
            assert cm.when() is not None


async def test_no_registered_deadline_is_fine() -> None:
    with local_wait():
        await asyncio.sleep(0)
