-- Nothing a valid message carries may be refused by the database (contract rule 6).

-- A B-tree entry holds at most 2,704 bytes, and a group's city is free text of up to 1,000
-- UTF-16 units (3,000 UTF-8 bytes): one long city in CJK made every batch around it fail. The
-- filters compare city and country for equality only, which a hash index serves at any length
-- (it keeps a 4-byte hash per row).
DROP INDEX groups_by_city;
CREATE INDEX groups_by_city ON groups USING hash (lower(city));
DROP INDEX groups_by_country;
CREATE INDEX groups_by_country ON groups USING hash (lower(country));

-- Attendees add up 1 + guests (guests up to 1,000) over every yes RSVP of an event, which passes
-- integer's 2,147,483,647 after about 2.1 million RSVPs; yes counts move to bigint with them so
-- that no count of any table has a ceiling a stream can reach.
ALTER TABLE events ALTER COLUMN yes_rsvps TYPE bigint, ALTER COLUMN attendees TYPE bigint;
ALTER TABLE event_day_counts ALTER COLUMN yes_rsvps TYPE bigint, ALTER COLUMN attendees TYPE bigint;
ALTER TABLE event_hour_counts ALTER COLUMN yes_rsvps TYPE bigint, ALTER COLUMN attendees TYPE bigint;
