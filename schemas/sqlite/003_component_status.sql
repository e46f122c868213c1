-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, SQLite schema version 3: what the running component
-- reports about its XMPP session, for `ringbridgectl check` (which must not
-- open a second session while one is connected: the server would refuse it,
-- or with Prosody's component_conflict_resolve = "kick_old", drop ours).
-- One row per component JID, rewritten at connect, at every privilege
-- advertisement and every heartbeat; connected_ms is 0 after a disconnect.
-- privileges: one line per served domain, "DOMAIN NS name=yes|no ...".

CREATE TABLE component_status (
	component TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	connected_ms INTEGER NOT NULL,
	heartbeat_ms INTEGER NOT NULL,
	privileges TEXT
);
