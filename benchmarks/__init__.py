"""lakecrew benchmarks: ratios against baselines run in the same session, plus peak memory."""
