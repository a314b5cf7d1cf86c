"""Running the same work in racing threads, released together by a barrier."""

from __future__ import annotations

import threading

THREADS = 8


def run_together(work) -> list[BaseException]:
    """Run ``work(i)`` in THREADS threads at once; the errors they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
