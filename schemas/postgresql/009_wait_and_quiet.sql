-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, PostgreSQL schema version 9: SQLite's 009 (number 010
-- in issue 12's plan; renumbered at merge), "wait, then call, unless
-- already seen" and the senders who ring through quiet hours. See the
-- SQLite file for the columns' meaning; times are BIGINT as everywhere.

ALTER TABLE registrations ADD COLUMN wait_minutes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE registrations ADD COLUMN ring_through TEXT;
ALTER TABLE registrations ADD COLUMN quiet_mode INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN seen_until_ms BIGINT;
