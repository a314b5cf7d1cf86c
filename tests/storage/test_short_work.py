"""Short database work runs in a small pool of its own, never more at once than it allows."""

from __future__ import annotations

import threading
import time

import anyio

from storage.sessions import SHORT_WORK_THREADS, ShortWork


def test_short_work_runs_in_threads_never_more_at_once_than_the_pool_allows():
    pool = ShortWork()
    lock = threading.Lock()
    running = {"now": 0, "most": 0}
    loop_thread = threading.get_ident()

    def work(*, n: int) -> tuple[int, bool]:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        time.sleep(0.05)
        with lock:
            running["now"] -= 1
        return n, threading.get_ident() != loop_thread

    async def main() -> list:
        results = []

        async def one(n: int) -> None:
            results.append(await pool.run(work, n=n))

        async with anyio.create_task_group() as group:
            for n in range(SHORT_WORK_THREADS * 3):
                group.start_soon(one, n)
        return results

    results = anyio.run(main)
    assert sorted(n for n, _ in results) == list(range(SHORT_WORK_THREADS * 3))
    assert all(off_loop for _, off_loop in results)
    assert running["most"] == SHORT_WORK_THREADS


def test_each_event_loop_gets_its_own_limiter():
    pool = ShortWork()

    async def once() -> object:
        await pool.run(lambda: None)
        return pool.limiter()

    first, second = anyio.run(once), anyio.run(once)
    assert first is not second
