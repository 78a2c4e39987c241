"""Pseudonymised views for analytics and exports: plate tokens, never plates or owners.

Everything here reads ``etle_violations`` (which holds no plate in clear) and the case
*state* only, so an analyst sees how many violations of what kind happened where and
when, and can count repeat offenders by token, without personal data (UU PDP; DOMAIN.md
section 5.1). Re-identification goes through a case id and the case record, never here.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from .repository import CASES, VIOLATIONS, CaseStore

EXPORT_COLUMNS = ("violation_id", "code", "rule", "rule_version", "camera_id", "observed_at",
                  "plate_token", "vehicle_class", "lon", "lat", "link_id", "state")
"""The columns of :func:`export_violations`; none is personal data in clear."""


def violation_counts(cases: CaseStore) -> dict[str, int]:
    """Violations per code."""
    stmt = select(VIOLATIONS.c.code, func.count()).group_by(VIOLATIONS.c.code)
    return cases.read(lambda conn: {str(c): int(n) for c, n in conn.execute(stmt)})


def repeat_offenders(cases: CaseStore, min_violations: int = 2) -> dict[str, int]:
    """Plate tokens with at least ``min_violations`` violations, and how many."""
    stmt = select(VIOLATIONS.c.plate_token).where(VIOLATIONS.c.plate_token.is_not(None))
    tokens = cases.read(lambda conn: Counter(r[0] for r in conn.execute(stmt)))
    return {t: n for t, n in tokens.items() if n >= min_violations}


def export_rows(cases: CaseStore) -> list[dict[str, Any]]:
    """Every violation as a row of :data:`EXPORT_COLUMNS`, oldest first."""
    cols = [VIOLATIONS.c[c] for c in EXPORT_COLUMNS if c != "state"]
    stmt = select(*cols, CASES.c.state).join(CASES, CASES.c.violation_id == VIOLATIONS.c.violation_id) \
        .order_by(VIOLATIONS.c.observed_at, VIOLATIONS.c.violation_id)
    return cases.read(lambda conn: [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r._mapping.items()}
        for r in conn.execute(stmt)])


def export_violations(cases: CaseStore, path: str | Path) -> int:
    """Write :func:`export_rows` to a CSV file; how many rows."""
    rows = export_rows(cases)
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(EXPORT_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
