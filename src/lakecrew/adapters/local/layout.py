"""Where a local project keeps its data. One folder holds everything; nothing lives elsewhere.

<project>/
  lakecrew.yaml                  the estate (workspace inventory, phases, budgets, ...)
  .lakecrew/
    lakehouse/<catalog>/<schema>/<table>/   Delta tables (system.*, lakecrew.* ledger, user data)
    metastore.db                 SQLite metastore with Unity Catalog's information model
    workspace.db                 SQLite store of REST-shaped workspace objects, per workspace
    simulation/ground_truth.json what the simulator planted (for scoring detection)
    locks/                       one lock file per workspace sweep
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProjectLayout:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / "lakecrew.yaml"

    @property
    def state_dir(self) -> Path:
        return self.root / ".lakecrew"

    @property
    def lakehouse_dir(self) -> Path:
        return self.state_dir / "lakehouse"

    @property
    def metastore_path(self) -> Path:
        return self.state_dir / "metastore.db"

    @property
    def workspace_db(self) -> Path:
        return self.state_dir / "workspace.db"

    @property
    def simulation_dir(self) -> Path:
        return self.state_dir / "simulation"

    @property
    def locks_dir(self) -> Path:
        return self.state_dir / "locks"

    def ensure(self) -> ProjectLayout:
        for d in (self.state_dir, self.lakehouse_dir, self.simulation_dir, self.locks_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self
