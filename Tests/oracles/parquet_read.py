#!/usr/bin/env python3
"""Oracle for Tests/ParquetTests: pyarrow reads each Parquet file named on the command line and
prints, as one JSON list (one entry per file), what it found:

  {"num_rows", "num_row_groups", "created_by", "metadata": {key: value} (footer key-value pairs),
   "columns": [{"name", "type" (str of the Arrow type), "nullable", "null_count",
                "lengths" (list columns: each row's length),
                "hex" (numeric columns, flattened: the values as little-endian bytes, hex),
                "bits" (bool: "0"/"1" per row), "strings" (string columns)}]}

Values travel as raw bytes so that floats compare bit for bit. A file pyarrow cannot read prints
{"error": "..."} in its place.
"""
import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def describe_column(field, column):
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    out = {"name": field.name, "type": str(field.type), "nullable": field.nullable, "null_count": column.null_count}
    if pa.types.is_list(field.type):
        offsets = array.offsets.to_numpy()
        out["lengths"] = np.diff(offsets).tolist()
        out["element_nullable"] = field.type.value_field.nullable
        array = array.flatten()
    t = array.type
    if pa.types.is_boolean(t):
        out["bits"] = "".join("1" if v else "0" for v in array.to_pylist())
    elif pa.types.is_string(t):
        out["strings"] = array.to_pylist()
    else:
        dtype = {pa.int64(): "<i8", pa.float32(): "<f4", pa.float64(): "<f8"}[t]
        out["hex"] = array.to_numpy(zero_copy_only=False).astype(dtype).tobytes().hex()
    return out


def describe(path):
    try:
        f = pq.ParquetFile(path)
        table = f.read()
        md = f.metadata
        return {
            "num_rows": table.num_rows,
            "metadata_num_rows": md.num_rows,
            "num_row_groups": md.num_row_groups,
            "created_by": md.created_by,
            "metadata": {k.decode(): v.decode() for k, v in (md.metadata or {}).items()},
            "columns": [describe_column(field, table.column(i)) for i, field in enumerate(table.schema)],
        }
    except Exception as e:  # the test reports pyarrow's reason
        return {"error": f"{type(e).__name__}: {e}"}


json.dump([describe(p) for p in sys.argv[1:]], sys.stdout)
