-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, PostgreSQL schema version 6: SQLite's 006, per
-- registered user the end of the user's message archive (XEP-0313
-- metadata) the component last looked at after a (re)connect, so that
-- messages archived while it was disconnected are noticed once
-- (component/missed.c).

CREATE TABLE archive_marks (
	jid TEXT PRIMARY KEY,
	end_id TEXT NOT NULL,
	end_ms BIGINT NOT NULL,
	checked_ms BIGINT NOT NULL
);
