-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, PostgreSQL schema version 4: one row per running
-- ringbridge-sip (SQLite's 004, same columns).

CREATE TABLE bridge_status (
	owner TEXT PRIMARY KEY,
	host TEXT NOT NULL,
	pid INTEGER NOT NULL,
	started_ms BIGINT NOT NULL,
	heartbeat_ms BIGINT NOT NULL,
	calls INTEGER NOT NULL,
	presence_lease INTEGER NOT NULL
);
CREATE INDEX bridge_status_heartbeat ON bridge_status (heartbeat_ms);
