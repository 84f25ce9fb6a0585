"""The demo-estate simulator: a seeded, clearly-labelled simulated eHealth Africa estate."""

from lakecrew.services.simulate.estate import simulated_estate_yaml
from lakecrew.services.simulate.simulator import (
    SimulationReport,
    SimulationSink,
    scale_for,
    simulate,
    write_ground_truth,
)

__all__ = [
    "SimulationReport",
    "SimulationSink",
    "scale_for",
    "simulate",
    "simulated_estate_yaml",
    "write_ground_truth",
]
