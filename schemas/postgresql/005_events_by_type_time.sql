-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, PostgreSQL schema version 5: the index SQLite's 005
-- adds, for the status page's chart of calls per hour (ES_CALLS_BY_HOUR).

CREATE INDEX events_type_created ON events (type, created_ms);
