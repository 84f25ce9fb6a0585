"""PII classification and masking (tokenize, partial, generalise, drop) over Arrow tables."""
