"""Secret detection over text lines with detect-secrets' engine (see README.md)."""
