-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, PostgreSQL schema version 11: SQLite's 011, the voice
-- replies the component serves itself, in the queue so that a standby
-- component on another host serves the links the active one handed out
-- (issue 11). Rows past expires_ms are refused and swept hourly.

CREATE TABLE published_audio (
	name TEXT PRIMARY KEY,
	mime TEXT NOT NULL,
	bytes BYTEA NOT NULL,
	created_ms BIGINT NOT NULL,
	expires_ms BIGINT NOT NULL
);

CREATE INDEX published_audio_by_expiry ON published_audio (expires_ms);
