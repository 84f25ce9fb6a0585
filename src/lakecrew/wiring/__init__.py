"""The composition root: the Context (adapters and services of one project) and its builders."""
