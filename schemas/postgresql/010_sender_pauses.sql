-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, PostgreSQL schema version 10: SQLite's 010, key 9's
-- pause of one sender's calls to one callee until the callee's next local
-- midnight (issue 12). While until_ms is ahead, that sender's messages to
-- that callee are not phoned.

CREATE TABLE sender_pauses (
	callee_jid TEXT NOT NULL,
	sender_jid TEXT NOT NULL,
	until_ms BIGINT NOT NULL,
	created_ms BIGINT NOT NULL,
	PRIMARY KEY (callee_jid, sender_jid)
);
