-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, SQLite schema version 4: one row per running
-- ringbridge-sip, for `ringbridgectl check` (is any bridge there to call
-- out the messages the component catches?). Each bridge rewrites its row at
-- start and every heartbeat (30 s) and deletes it when it exits; a row
-- whose heartbeat is older than three beats is a bridge that died: readers
-- ignore it, and writers delete rows a day old.

CREATE TABLE bridge_status (
	owner TEXT PRIMARY KEY,
	host TEXT NOT NULL,
	pid INTEGER NOT NULL,
	started_ms INTEGER NOT NULL,
	heartbeat_ms INTEGER NOT NULL,
	calls INTEGER NOT NULL,
	presence_lease INTEGER NOT NULL
);
CREATE INDEX bridge_status_heartbeat ON bridge_status (heartbeat_ms);
