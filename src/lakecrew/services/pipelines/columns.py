"""Names of the metadata columns the layers add (a leaf module: imports only the Source port)."""

from __future__ import annotations

import pyarrow as pa

from lakecrew.ports.source import BATCH_ID, SOURCE_ROW, SOURCE_URI

INGESTED_AT = "_ingested_at"
STAGE = "_stage"
RUN_ID = "_run_id"
QUARANTINED_AT = "_quarantined_at"
RENAMED_COLUMNS = "_renamed_columns"
"""Bronze metadata of ``bronze.unify_column_case``: JSON ``{bronze name: header as received}``
of the columns of a row's file stored under another case (null where none was)."""
CARRY = (SOURCE_URI, BATCH_ID, SOURCE_ROW, INGESTED_AT)
"""Bronze metadata every silver row keeps (row-level provenance, idempotent batch rewrites)."""
TS = pa.timestamp("us", tz="UTC")
