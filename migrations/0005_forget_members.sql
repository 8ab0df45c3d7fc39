-- Data minimisation: who RSVPed (members' ids, names and photo URLs, real people's data from a
-- public stream) was written with every batch and read by nothing. It goes, with what was kept.
DROP TABLE members;
ALTER TABLE rsvps DROP COLUMN member_id;
