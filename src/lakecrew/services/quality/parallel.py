"""Run independent column or rule computations side by side in threads.

Arrow compute kernels release the GIL, so coercing twelve columns or evaluating ten row rules
in a small thread pool uses every core of the machine; results come back in input order and
the first exception (in input order) is raised, as a plain loop would.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
WORKERS = max(1, min(4, os.cpu_count() or 1))


def map_threads(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[fn(x) for x in items]``, computed by up to ``WORKERS`` threads."""
    work = list(items)
    if len(work) < 2 or WORKERS == 1:
        return [fn(x) for x in work]
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="lakecrew-quality") as pool:
        return list(pool.map(fn, work))
