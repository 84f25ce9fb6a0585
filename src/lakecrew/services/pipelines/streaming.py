"""Micro-batch control of a streaming source (a Kafka topic read by Structured Streaming).

The streaming query writes bronze itself, batch by batch (adapters/spark/kafka.py); after each
micro-batch, silver and gold follow with the same runner and a source that has nothing pending
(`Drained`), so a never-ending query keeps every layer current.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from lakecrew.ports.source import Batch, CheckpointToken
from lakecrew.services.pipelines.loader import LoadedPipeline
from lakecrew.services.pipelines.runner import PipelineRunner
from lakecrew.services.pipelines.steps import RunnerDeps


class Drained:
    """A source with nothing pending (bronze was written by the streaming query)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def discover(self) -> list[str]:
        return []

    def read(self) -> Iterator[Batch]:
        return iter(())

    def commit(self, token: CheckpointToken) -> None:
        """Nothing to record."""


def after_micro_batch(deps: RunnerDeps, loaded: LoadedPipeline) -> Callable[[], None]:
    """What runs after each micro-batch of a triggered query: silver and gold catch up."""
    drained = dataclasses.replace(deps, open_source=lambda _: Drained(loaded.spec.name))

    def downstream() -> None:
        PipelineRunner(drained).run(loaded)

    return downstream
