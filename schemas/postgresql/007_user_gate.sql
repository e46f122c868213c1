-- SPDX-License-Identifier: GPL-3.0-or-later
-- ringbridge queue, PostgreSQL schema version 7: SQLite's 007, the user's
-- own voicemail gate (issue 12). NULL follows the operator's [calls] gate;
-- 0 off, 1 on. The job keeps its own copy, taken when the message was
-- caught.

ALTER TABLE registrations ADD COLUMN gate INTEGER;
ALTER TABLE jobs ADD COLUMN gate INTEGER;
