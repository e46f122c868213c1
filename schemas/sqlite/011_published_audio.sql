-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, SQLite schema version 11: the voice replies the
-- component serves itself (when the XMPP server has no HTTP upload), kept
-- in the queue rather than on one host's disk, so that every component
-- sharing the queue serves every link (issue 11). One row per published
-- name (128 random bits and an extension); rows past expires_ms are refused
-- at once and deleted by the component's hourly sweep.

CREATE TABLE published_audio (
	name TEXT PRIMARY KEY,
	mime TEXT NOT NULL,
	bytes BLOB NOT NULL,
	created_ms INTEGER NOT NULL,
	expires_ms INTEGER NOT NULL
);

CREATE INDEX published_audio_by_expiry ON published_audio (expires_ms);
