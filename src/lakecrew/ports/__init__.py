"""Small ports between services and adapters; plain frozen dataclasses cross them."""
