"""A process that drains an outbox to a webhook and kills itself (SIGKILL) right after the
N-th send, before recording it: the deterministic crash point of the kill -9 tests.

    python -m lakecrew.testing.outbox_crash DB URL KILL_AFTER   # KILL_AFTER=0: never
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from lakecrew.adapters.local.outbox_store import SqliteOutbox
from lakecrew.adapters.notify.channels import SignedWebhookChannel
from lakecrew.ports.notify import Delivery
from lakecrew.ports.outbox import OutboxMessage
from lakecrew.services.notify.outbox import Dispatcher

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def main(argv: list[str]) -> int:
    db, url, kill_after = Path(argv[0]), argv[1], int(argv[2])
    sent = 0

    def after_send(msg: OutboxMessage, result: Delivery) -> None:
        nonlocal sent
        sent += 1
        if sent == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    channel = SignedWebhookChannel("hook", SecretStr(url), SecretStr("k"))
    report = Dispatcher(SqliteOutbox(db), {"hook": channel}, after_send=after_send).drain(NOW)
    print(report.as_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
