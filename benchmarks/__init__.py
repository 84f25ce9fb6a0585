"""lakecrew benchmarks: ratios against baselines run in the same session, plus peak memory."""

# First, as the lakecrew command does: importing lakecrew sets Arrow's allocator options before
# pyarrow loads (src/lakecrew/wiring/arrow_memory.py), for every benchmark process alike.
import lakecrew  # noqa: F401
