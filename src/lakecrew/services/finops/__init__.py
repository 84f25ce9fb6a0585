"""FinOps analytics core: cost model, allocation, anomaly detection (see README.md)."""
