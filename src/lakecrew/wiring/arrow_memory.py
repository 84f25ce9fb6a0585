"""Arrow's allocator told to keep freed pages mapped, set before pyarrow loads (Linux).

pyarrow allocates through its bundled mimalloc, which by default gives freed pages back to the
kernel 10 ms after they are freed (``MADV_DONTNEED``). A pipeline frees and reallocates buffers
of a batch's size again and again, so at 10M rows the kernel zeroed ~6 GB of pages on first
touch: 1.5 million page faults and 4 s of system time in an 11 s run. With the purge made a
``MADV_FREE`` (the kernel still takes the pages back when it needs memory, but a page touched
again before that is reused as it is) and delayed to a second, the faults fall to ~0.9 million
and system time to ~2.5 s (docs/benchmarks.md, "Session 12"). Peak RSS grows by ~0.2 GB: pages
freed lazily are counted until the kernel reclaims them.

mimalloc reads these options once, when libarrow loads, so they are set as environment
variables when ``lakecrew`` is imported (its ``__init__``), before anything imports pyarrow;
imported later (pyarrow already loaded) this changes nothing. A value already in the environment
is kept; ``LAKECREW_ARROW_MEMORY=keep`` leaves all of them alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping, Set

KEEP = "LAKECREW_ARROW_MEMORY"
OPTIONS = {"MIMALLOC_PURGE_DECOMMITS": "0", "MIMALLOC_PURGE_DELAY": "1000"}


def configure(
    environ: MutableMapping[str, str] = os.environ, loaded: Set[str] = sys.modules.keys()
) -> dict[str, str]:
    """Set the options that are not set yet; returns what was set (nothing once pyarrow is
    loaded, or when opted out)."""
    if environ.get(KEEP, "").lower() == "keep" or "pyarrow" in loaded:
        return {}
    added = {name: value for name, value in OPTIONS.items() if name not in environ}
    environ.update(added)
    return added
