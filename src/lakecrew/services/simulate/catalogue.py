"""Realistic Databricks reference values for the simulated estate (AWS flavour).

Node types carry cores, memory and GPUs as AWS publishes them and an indicative DBU/hour rate of
the kind Databricks lists for classic compute; SKU prices come from the shared contract
(section 5, "indicative" third-party copies of `system.billing.list_prices`). They are seed data
for a simulation, not quotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

SIM_DOMAIN: Final = "sim.ehealthafrica.example"
SIM_LABEL_KEY: Final = "lakecrew.simulated"
SPARK_VERSIONS: Final = ("15.4.x-scala2.12", "14.3.x-scala2.12", "16.4.x-scala2.12")
ML_SPARK_VERSION: Final = "15.4.x-gpu-ml-scala2.12"
AWS_ZONE: Final = "us-east-1a"


@dataclass(frozen=True)
class NodeType:
    """One AWS instance type as Databricks sees it."""

    name: str
    cores: float
    memory_mb: int
    gpus: int
    dbu_per_hour: float

    @property
    def memory_gb(self) -> float:
        return self.memory_mb / 1024


NODE_TYPES: Final[dict[str, NodeType]] = {
    n.name: n
    for n in (
        NodeType("m5.large", 2, 8192, 0, 0.34),
        NodeType("m5.xlarge", 4, 16384, 0, 0.69),
        NodeType("m5.2xlarge", 8, 32768, 0, 1.37),
        NodeType("m5.4xlarge", 16, 65536, 0, 2.74),
        NodeType("r5.xlarge", 4, 32768, 0, 0.90),
        NodeType("r5.2xlarge", 8, 65536, 0, 1.80),
        NodeType("r5.4xlarge", 16, 131072, 0, 3.60),
        NodeType("r5.8xlarge", 32, 262144, 0, 7.20),
        NodeType("r5.16xlarge", 64, 524288, 0, 14.40),
        NodeType("i3.xlarge", 4, 31232, 0, 1.00),
        NodeType("i3.2xlarge", 8, 62464, 0, 2.00),
        NodeType("i3.4xlarge", 16, 124928, 0, 4.00),
        NodeType("c5.xlarge", 4, 8192, 0, 0.61),
        NodeType("c5.2xlarge", 8, 16384, 0, 1.22),
        NodeType("c5.4xlarge", 16, 32768, 0, 2.43),
        NodeType("g4dn.xlarge", 4, 16384, 1, 0.71),
        NodeType("g5.xlarge", 4, 16384, 1, 1.07),
        NodeType("g5.4xlarge", 16, 65536, 1, 2.92),
        NodeType("x1.16xlarge", 64, 999424, 0, 11.00),
    )
}

# T-shirt sizes of SOP 1.2.1 (max workers, max worker-node memory in GB) and autoscaling bounds of
# SOP 1.2.4 (min, max) per environment.
TSHIRT: Final = {"dev": (4, 16), "qa": (8, 64), "prod": (16, 256)}
AUTOSCALE: Final = {"dev": (1, 2), "qa": (2, 4), "prod": (4, 16)}
L_NODE_MEMORY_GB: Final = 256

# Compliant worker node types per environment (memory within the T-shirt limit, no GPU).
COMPLIANT_NODES: Final = {
    "dev": ("m5.large", "m5.xlarge", "c5.xlarge", "c5.2xlarge"),
    "qa": ("m5.xlarge", "m5.2xlarge", "r5.xlarge", "i3.xlarge", "c5.4xlarge"),
    "prod": ("m5.2xlarge", "m5.4xlarge", "r5.2xlarge", "r5.4xlarge", "i3.2xlarge", "i3.4xlarge"),
}

SKU_ALL_PURPOSE: Final = "PREMIUM_ALL_PURPOSE_COMPUTE"
SKU_JOBS: Final = "PREMIUM_JOBS_COMPUTE"
SKU_JOBS_PHOTON: Final = "PREMIUM_JOBS_COMPUTE_(PHOTON)"
SKU_SQL_PRO: Final = "PREMIUM_SQL_PRO_COMPUTE_US_EAST_N_VIRGINIA"
SKU_SQL_SERVERLESS: Final = "PREMIUM_SERVERLESS_SQL_COMPUTE_US_EAST_N_VIRGINIA"
SKU_JOBS_SERVERLESS: Final = "PREMIUM_JOBS_SERVERLESS_COMPUTE_US_EAST_N_VIRGINIA"

# billing_origin_product per SKU; the anomaly "sku_family" is this value.
SKU_FAMILY: Final = {
    SKU_ALL_PURPOSE: "ALL_PURPOSE",
    SKU_JOBS: "JOBS",
    SKU_JOBS_PHOTON: "JOBS",
    SKU_SQL_PRO: "SQL",
    SKU_SQL_SERVERLESS: "SQL",
    SKU_JOBS_SERVERLESS: "JOBS",
}

# (sku, $/DBU) from contract section 5; every row starts on PRICE_EPOCH.
LIST_PRICES: Final = (
    ("STANDARD_JOBS_COMPUTE", "0.10"),
    (SKU_JOBS, "0.15"),
    (SKU_JOBS_PHOTON, "0.15"),
    ("ENTERPRISE_JOBS_COMPUTE", "0.20"),
    ("PREMIUM_JOBS_LIGHT_COMPUTE", "0.10"),
    (SKU_ALL_PURPOSE, "0.55"),
    ("PREMIUM_ALL_PURPOSE_COMPUTE_(PHOTON)", "0.55"),
    ("PREMIUM_DLT_CORE_COMPUTE", "0.20"),
    ("PREMIUM_SQL_COMPUTE", "0.22"),
    (SKU_SQL_PRO, "0.55"),
    (SKU_SQL_SERVERLESS, "0.70"),
    (SKU_JOBS_SERVERLESS, "0.35"),
    ("PREMIUM_ALL_PURPOSE_SERVERLESS_COMPUTE_US_EAST_N_VIRGINIA", "0.75"),
    ("PREMIUM_SERVERLESS_REAL_TIME_INFERENCE_US_EAST_N_VIRGINIA", "0.07"),
)
PRICE_EPOCH: Final = datetime.fromisoformat("2025-04-30T00:00:00+00:00")
# The simulated mid-period price change: (sku, new $/DBU, days before as_of it takes effect).
PRICE_CHANGE: Final = (SKU_SQL_PRO, "0.61", 45)

# SQL warehouse sizes: API name, system-table name, DBU/hour (per cluster).
WAREHOUSE_SIZES: Final = {
    "2X-Small": ("2X_SMALL", 4.0),
    "X-Small": ("X_SMALL", 6.0),
    "Small": ("SMALL", 12.0),
    "Medium": ("MEDIUM", 24.0),
    "Large": ("LARGE", 40.0),
}


def price_change_time(as_of: date) -> datetime:
    """When the simulated price change takes effect (midnight UTC, PRICE_CHANGE days before)."""
    start = datetime(as_of.year, as_of.month, as_of.day, tzinfo=PRICE_EPOCH.tzinfo)
    return start - timedelta(days=PRICE_CHANGE[2])


def sim_email(local: str) -> str:
    """An address at the simulated domain (never a real person)."""
    return f"{local}@{SIM_DOMAIN}"
