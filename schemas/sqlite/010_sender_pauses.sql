-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, SQLite schema version 10: key 9, "no more calls from
-- this sender today" (issue 12). One row per callee and sender, until the
-- callee's next local midnight (the bridge works it out in the job's zone);
-- while until_ms is ahead, that sender's messages to that callee are not
-- phoned. Rows that have run out are deleted when the next pause is written.

CREATE TABLE sender_pauses (
	callee_jid TEXT NOT NULL,
	sender_jid TEXT NOT NULL,
	until_ms INTEGER NOT NULL,
	created_ms INTEGER NOT NULL,
	PRIMARY KEY (callee_jid, sender_jid)
);
