# Copyright (c) mmltml contributors. All rights reserved.
"""Markdown helpers of the tests that check docs against recorded data."""
from typing import List


def table_rows(text: str, header: str) -> List[List[str]]:
    """Rows (lists of cells) of the markdown table under ``header``.

    ``header`` is the start of the table's header line; the separator line
    under it is skipped and the table ends at the first line that does not
    start with ``|``.
    """
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith('|'):
            break
        rows.append([cell.strip() for cell in line.strip('|').split('|')])
    return rows
