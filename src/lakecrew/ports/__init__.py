"""Small ports between services and adapters. Plain frozen dataclasses cross them, never vendor objects."""
