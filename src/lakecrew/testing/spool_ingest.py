"""Test stand-in for the bronze writer: ingests a webhook spool into one JSON-lines file per batch.

A batch file is named by its batch id and replaced atomically, so writing the same batch twice
(a re-read after a crash) leaves one copy: the dedupe-by-batch-id contract of bronze.

``python -m lakecrew.testing.spool_ingest --spool F --sink DIR [--die-after-write K]
[--forever --stop-file S]``: ``--die-after-write`` SIGKILLs the process after writing batch K
and before committing it (a crash at the worst moment).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from lakecrew.adapters.sources.webhook import SpoolSource
from lakecrew.core.files import write_atomic
from lakecrew.ports.source import SOURCE_ROW, Batch


def write_batch(sink: Path, batch: Batch) -> None:
    """Write the batch as JSON lines named by its batch id (idempotent)."""
    rows = batch.table.select(["submission_id", SOURCE_ROW]).to_pylist()
    text = "".join(json.dumps(r) + "\n" for r in rows)
    write_atomic(sink / f"{batch.batch_id}.jsonl", text.encode())


def sink_ids(sink: Path) -> list[str]:
    """Every submission id in the sink, one entry per stored row (duplicates kept)."""
    ids = []
    for path in sorted(sink.glob("*.jsonl")):
        ids += [json.loads(line)["submission_id"] for line in path.read_text().splitlines()]
    return ids


def main(argv: list[str] | None = None) -> int:
    """Ingest pending batches once, or until the stop file exists with ``--forever``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--spool", type=Path, required=True)
    parser.add_argument("--sink", type=Path, required=True)
    parser.add_argument("--batch-size", type=int, default=7)
    parser.add_argument("--die-after-write", type=int, default=0)
    parser.add_argument("--forever", action="store_true")
    parser.add_argument("--stop-file", type=Path)
    args = parser.parse_args(argv)
    args.sink.mkdir(parents=True, exist_ok=True)
    source = SpoolSource("forms", args.spool, args.batch_size)
    written = 0
    while True:
        for batch in source.read():
            write_batch(args.sink, batch)
            written += 1
            if written == args.die_after_write:
                os.kill(os.getpid(), signal.SIGKILL)
            source.commit(batch.checkpoint)
        if not args.forever or (args.stop_file and args.stop_file.exists()):
            return 0
        time.sleep(0.02)


if __name__ == "__main__":
    sys.exit(main())
