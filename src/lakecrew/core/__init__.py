"""Domain types, the rule engine and the error tree. No I/O, no vendor imports."""
