-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, PostgreSQL schema version 3: what the running component
-- reports about its XMPP session (SQLite's 003, same columns).

CREATE TABLE component_status (
	component TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	connected_ms BIGINT NOT NULL,
	heartbeat_ms BIGINT NOT NULL,
	privileges TEXT
);
