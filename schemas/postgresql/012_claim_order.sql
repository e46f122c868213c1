-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, PostgreSQL schema version 12: the claim's indexes.
-- A claim takes the first due queued job by (next_attempt_ms, id): jobs_due
-- (state, next_attempt_ms) left the id out, so the planner could read every
-- due job and sort them before taking one (about 1 ms with a thousand
-- waiting, ten times that with ten thousand: a backlog made every claim
-- slower); with the id in the index the claim walks it in order and stops
-- at the first job it can lock. A claim also looks for a job whose lease
-- lapsed: jobs_leases finds those by deadline instead of walking every
-- active job (a thousand calls under way) at each claim.

CREATE INDEX jobs_due_in_order ON jobs (state, next_attempt_ms, id);
DROP INDEX jobs_due;
CREATE INDEX jobs_leases ON jobs (lease_deadline_ms) WHERE state = 1;
