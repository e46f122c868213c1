-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, SQLite schema version 12: the claim's indexes, as
-- PostgreSQL's 012. A claim also looks for a job whose lease lapsed:
-- jobs_leases finds those by deadline instead of walking every active job
-- (a thousand calls under way) at each claim. (PostgreSQL's 012 also puts
-- the id into jobs_due; an SQLite index already ends with the rowid, which
-- a job's id is, so the claim walks jobs_due in (state, next_attempt_ms,
-- id) order as it is.)

CREATE INDEX jobs_leases ON jobs (lease_deadline_ms) WHERE state = 1;
