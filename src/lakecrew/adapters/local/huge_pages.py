"""Transparent huge pages off for a process that runs pipelines locally (Linux).

Where the kernel hands out transparent huge pages on request (``madvise`` mode, the default
here), the allocators under a local run ask for them (Arrow's mimalloc, numpy for large arrays),
and every first touch of a 2 MiB page zeroes all of it. A pipeline allocates and frees buffers
of a batch's size again and again, so the kernel zeroed far more than was used: at 10M rows
the run spent 8–9 s of system time (perf: ``clear_page_erms`` under huge-page faults, a third of
all samples) against 3–4 s with 4 KiB pages, for the same user time (docs/benchmarks.md,
"Session 11"). ``prctl(PR_SET_THP_DISABLE)`` turns them off for this process and the processes
it starts (Redis and MongoDB ask for the same). Set ``LAKECREW_HUGE_PAGES=keep`` to leave the
machine's setting alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_THP_DISABLE = 41
KEEP = "LAKECREW_HUGE_PAGES"


def turn_off() -> bool:
    """Disable transparent huge pages for this process; True when it was done (Linux, not
    opted out), False otherwise (another OS, or the call failed: nothing else changes)."""
    if sys.platform != "linux" or os.environ.get(KEEP, "").lower() == "keep":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def turned_off() -> bool:
    """Whether transparent huge pages are off for this process (``PR_GET_THP_DISABLE``)."""
    if sys.platform != "linux":
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(PR_SET_THP_DISABLE + 1, 0, 0, 0, 0)) == 1
