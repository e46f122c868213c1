-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, SQLite schema version 1: registrations, jobs and their
-- messages, events, presence and leases (ARCHITECTURE.md "What the queue
-- holds"). Applied by the queue library inside one transaction, which also
-- records the version in schema_version; integer codes match queue.h.

CREATE TABLE schema_version (version INTEGER NOT NULL);

CREATE TABLE registrations (
	jid TEXT PRIMARY KEY,
	phone TEXT NOT NULL,
	verified INTEGER NOT NULL DEFAULT 0,
	verify_code TEXT,
	verify_failures INTEGER NOT NULL DEFAULT 0,
	tz TEXT,
	lang TEXT,
	call_when INTEGER NOT NULL DEFAULT 0,
	quiet_start INTEGER NOT NULL DEFAULT -1,
	quiet_end INTEGER NOT NULL DEFAULT -1,
	roster_only INTEGER NOT NULL DEFAULT 0,
	sip_presence TEXT,
	push_node TEXT UNIQUE,
	created_ms INTEGER NOT NULL,
	updated_ms INTEGER NOT NULL
);

-- kind: 1 message, 2 verify.
-- state: 0 queued, 1 active, 2 notified, 3 failed, 4 cancelled.
CREATE TABLE jobs (
	id INTEGER PRIMARY KEY,
	kind INTEGER NOT NULL,
	state INTEGER NOT NULL,
	callee_jid TEXT NOT NULL,
	destination TEXT NOT NULL,
	tz TEXT,
	lang TEXT,
	sender_jid TEXT,
	sender_name TEXT,
	reply_from TEXT,
	verify_code TEXT,
	attempts INTEGER NOT NULL DEFAULT 0,
	created_ms INTEGER NOT NULL,
	not_before_ms INTEGER NOT NULL,
	next_attempt_ms INTEGER NOT NULL,
	lease_owner TEXT,
	lease_deadline_ms INTEGER,
	last_reason TEXT,
	finished_ms INTEGER
);
-- Claims: the oldest due queued job, or an active one whose lease lapsed.
CREATE INDEX jobs_due ON jobs (state, next_attempt_ms);
-- Enqueue: the open job of a (callee, sender) pair and its last finished one.
CREATE INDEX jobs_pair ON jobs (callee_jid, sender_jid, state);
-- Hourly limits: jobs created per callee and per sender.
CREATE INDEX jobs_callee_created ON jobs (callee_jid, created_ms);
CREATE INDEX jobs_sender_created ON jobs (sender_jid, created_ms);

CREATE TABLE job_messages (
	id INTEGER PRIMARY KEY,
	job_id INTEGER NOT NULL REFERENCES jobs (id),
	seq INTEGER NOT NULL,
	sender_jid TEXT NOT NULL,
	body TEXT NOT NULL,
	encrypted INTEGER NOT NULL DEFAULT 0,
	heard INTEGER NOT NULL DEFAULT 0,
	received_ms INTEGER NOT NULL,
	idem_key TEXT NOT NULL UNIQUE,
	UNIQUE (job_id, seq)
);

CREATE TABLE events (
	id INTEGER PRIMARY KEY,
	job_id INTEGER NOT NULL REFERENCES jobs (id),
	type INTEGER NOT NULL,
	detail TEXT,
	blob BLOB,
	created_ms INTEGER NOT NULL,
	delivered_ms INTEGER
);
-- The component reads only what it has not delivered yet: keep that small.
CREATE INDEX events_undelivered ON events (id) WHERE delivered_ms IS NULL;
-- A lapsed verify call: was its code spoken (an event of type 8)?
CREATE INDEX events_job ON events (job_id, type);

CREATE TABLE presence (
	jid TEXT NOT NULL,
	source TEXT NOT NULL,
	state TEXT NOT NULL,
	status TEXT,
	updated_ms INTEGER NOT NULL,
	PRIMARY KEY (jid, source)
);

CREATE TABLE leases (
	name TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	deadline_ms INTEGER NOT NULL
);
