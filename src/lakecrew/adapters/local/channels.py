"""Local notification channels: the console (a text stream) and a JSON-lines file.

Both implement ports.notify.Notifier. The file channel appends one JSON object per notification
and fsyncs it, so a delivered notification is on disk when `send` returns.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from lakecrew.ports.notify import (
    Delivery,
    Notification,
    notification_from_dict,
    summary_label,
)


class ConsoleChannel:
    """Writes each notification as a short block of text to a stream (stderr by default)."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, notification: Notification) -> Delivery:
        stream = self._stream or sys.stderr
        try:
            stream.write(
                f"[{notification.severity}] to {notification.owner}: {notification.subject}\n"
                + (
                    f"{summary_label(notification)}:\n{notification.summary}\n"
                    if notification.summary
                    else ""
                )
                + f"{notification.body}\n\n"
            )
            stream.flush()
        except OSError as exc:
            return Delivery(False, f"console write failed: {exc.strerror or exc}")
        return Delivery(True)


class FileChannel:
    """Appends notifications as JSON lines to one file (created with its folder)."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def send(self, notification: Notification) -> Delivery:
        line = json.dumps(asdict(notification), sort_keys=True, ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            return Delivery(False, f"{self.path}: {exc.strerror or exc}")
        return Delivery(True)

    def read(self) -> list[Notification]:
        """Every notification written so far (for tests and `lakecrew` reports)."""
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as fh:
            return [notification_from_dict(json.loads(line)) for line in fh if line.strip()]
