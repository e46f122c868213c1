-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, PostgreSQL schema version 8: SQLite's 008, up to three
-- numbers per user, tried in order (issue 12). phone stays the first;
-- phone2 and phone3 are verified on their own. A job keeps the verified
-- numbers it was queued with; NULL where there is no such number.

ALTER TABLE registrations ADD COLUMN phone2 TEXT;
ALTER TABLE registrations ADD COLUMN phone3 TEXT;
ALTER TABLE registrations ADD COLUMN verified2 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE registrations ADD COLUMN verified3 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN destination2 TEXT;
ALTER TABLE jobs ADD COLUMN destination3 TEXT;
