-- What the query API needs beyond all-time and per-day counts.

-- Per event and UTC hour of the RSVP's current mtime (hour_start: epoch ms, a multiple of
-- 3,600,000). A [from, to) window adds up whole days from event_day_counts, whole hours from here,
-- and reads RSVPs (by mtime, below) only for the partial hours at its two edges.
CREATE TABLE event_hour_counts (
  hour_start bigint  NOT NULL,
  event_id   text    COLLATE "C" NOT NULL,
  yes_rsvps  integer NOT NULL,
  attendees  integer NOT NULL,
  PRIMARY KEY (hour_start, event_id)
) WITH (fillfactor = 80);

-- The windows' edges: the RSVPs whose current version falls in a partial hour.
CREATE INDEX rsvps_by_mtime ON rsvps (mtime);

-- Filters: from a group (by country, city or topic) to its events.
CREATE INDEX events_by_group ON events (group_id);
CREATE INDEX groups_by_country ON groups (lower(country));
CREATE INDEX groups_by_city ON groups (lower(city));
CREATE INDEX groups_by_topic ON groups USING gin (topics jsonb_path_ops);
