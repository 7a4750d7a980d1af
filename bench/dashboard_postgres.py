"""Seed bench_dashboard.py's alerts into an empty PostgreSQL database (`--database-url`).

The same rows as the SQLite seed, loaded with COPY; alert_labels and incidents are then
filled by SQL the way bench_dashboard.seed does it on SQLite (every ten fired alerts one
incident), followed by ANALYZE so the planner sees a million rows, not an empty table.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable

import psycopg

from app import migrate
from app.auth import service as auth
from app.db import Database

COLUMNS = (
    "fingerprint, detector, source, labels, severity, state, kind, message, value, threshold, evidence,"
    " started_at, fired_at, resolved_at, last_seen_at, listed, search_text"
)


def seed(url: str, rows: Iterable[tuple[Any, ...]], token_path: Path) -> None:
    database = Database(url)
    migrate.upgrade(database)
    with database.write() as s:
        _row, secret = auth.create(s, name="bench", role="viewer", by="bench")
    database.dispose()
    token_path.write_text(secret)
    began = time.perf_counter()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=False) as conn:
        conn.execute("SET TIME ZONE 'UTC'")  # the rows' timestamps are UTC without a zone
        with conn.cursor().copy(f"COPY alerts ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.execute(
            "INSERT INTO alert_labels (alert_id, name, value) "
            "SELECT a.id, j.key, j.value FROM alerts a, json_each_text(a.labels::json) j"
        )
        conn.execute("UPDATE alerts SET incident_id = (id + 9) / 10 WHERE state != 'pending'")
        conn.execute(
            "INSERT INTO incidents (id, group_key, detector, group_labels, severity, state, started_at, updated_at,"
            " resolved_at, alert_count, open_count) SELECT incident_id, 'k' || incident_id, min(detector), '{}',"
            " max(severity), CASE WHEN count(*) FILTER (WHERE state = 'firing') > 0 THEN 'open' ELSE 'resolved'"
            " END, min(started_at), max(last_seen_at), max(resolved_at), count(*),"
            " count(*) FILTER (WHERE state = 'firing') FROM alerts WHERE incident_id IS NOT NULL GROUP BY incident_id"
        )
        conn.execute("SELECT setval(pg_get_serial_sequence('incidents', 'id'), (SELECT max(id) FROM incidents))")
        conn.commit()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"seeded PostgreSQL in {time.perf_counter() - began:.1f}s")
