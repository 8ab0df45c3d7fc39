-- Whether the last write of a row's details changed them (rather than only moving them to a
-- newer message with the same content). The batch that changes an event's, a group's or a
-- venue's details says so, and only those cache entries are dropped: every batch names the
-- active groups again, mostly with the same details. The comparison is made against the row as
-- it is when the batch holds its lock, so concurrent batches cannot hide a change from each other.
ALTER TABLE events ADD COLUMN details_changed boolean NOT NULL DEFAULT false;
ALTER TABLE groups ADD COLUMN details_changed boolean NOT NULL DEFAULT false;
ALTER TABLE venues ADD COLUMN details_changed boolean NOT NULL DEFAULT false;
