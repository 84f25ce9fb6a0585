"""Alerts that reach people: routing, the durable outbox's delivery, digests and escalation."""
