-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, SQLite schema version 5: an index for the status page's
-- chart of calls per hour (ES_CALLS_BY_HOUR counts the CALLING events of
-- the last day). Events are never deleted, so without it every read of the
-- page would scan the whole events table.

CREATE INDEX events_type_created ON events (type, created_ms);
