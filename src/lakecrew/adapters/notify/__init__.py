"""Notification channels and ticket trackers over their real wire formats (see README.md)."""
