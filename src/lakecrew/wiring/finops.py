"""The daily cost cube for one run of a command (an agent run, a whole-estate sweep).

`run_cube(ctx)` gives the run its `CostCube` over the project's engine. In a writable Context
the cube is refreshed first (only days whose usage, prices or tags changed are recomputed; the
very first refresh of a project builds it), so every cost read of the run reads materialised
days without planning again. In a read-only Context (or when the refresh fails) the cube is
read as it is: fresh days from the cube, stale days — or every day, when it was never built —
computed from raw usage, so the figures are the same either way; only the time differs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lakecrew.core.errors import LakecrewError, TableMissing

if TYPE_CHECKING:
    from lakecrew.services.finops.cube import CostCube
    from lakecrew.wiring.context import Context

log = logging.getLogger(__name__)


def run_cube(ctx: Context) -> CostCube:
    """The cost cube of this run, refreshed first when the Context is writable."""
    from lakecrew.services.finops.cube import CostCube

    cube = CostCube(ctx.sql)
    if not ctx.writable:
        return cube
    try:
        cube.refresh()
    except TableMissing:
        return CostCube(ctx.sql)  # no billing tables yet: nothing to materialise
    except LakecrewError as exc:
        # Reads stay exact without a refresh (stale days are computed on the fly).
        log.warning("cost cube not refreshed: %s", exc.one_line())
        return CostCube(ctx.sql)
    return cube
