"""A sweep's chunks: one Parquet partition per chunk of members, written atomically by the
worker that evaluated it (local processes and Ray tasks alike), so no result travels back to the
driver to be written one after another.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dse.files import atomic_path
from dse.sweep.evaluate import FamilySpec, Targets, evaluate_chunk

__all__ = ["PART", "write_chunk", "write_part"]

#: A partition's file name in the sweep folder, by chunk number.
PART = "part-{:06d}.parquet"


def write_part(out: Path, k: int, frame: pd.DataFrame) -> None:
    """Write chunk ``k``'s frame as its partition of the folder ``out``, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    with atomic_path(out / PART.format(k)) as tmp:
        pq.write_table(table, tmp)


def write_chunk(family: FamilySpec, indices: np.ndarray, targets: Targets, out: str,
                k: int) -> int:
    """Evaluate chunk ``k`` and write its partition into the folder ``out`` (atomically);
    returns its members. What a worker on this machine runs: the partition does not travel
    back to the process driving the sweep, which would write every chunk one after another."""
    frame = evaluate_chunk(family, indices, targets)
    write_part(Path(out), k, frame)
    return len(frame)
