-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, SQLite schema version 9 (number 010 in issue 12's plan;
-- renumbered at merge): "wait, then call, unless already seen" and the
-- senders who ring through quiet hours. wait_minutes: 0 calls at once.
-- ring_through: the JIDs and domains that ring through quiet hours, one
-- per line, NULL for none; quiet_mode: 0 defers the others' calls to the
-- end of quiet hours, 1 never calls them. A job's seen_until_ms is the end
-- of its wait: if the callee comes online before it, the job is cancelled
-- (NULL: no wait).

ALTER TABLE registrations ADD COLUMN wait_minutes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE registrations ADD COLUMN ring_through TEXT;
ALTER TABLE registrations ADD COLUMN quiet_mode INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN seen_until_ms INTEGER;
