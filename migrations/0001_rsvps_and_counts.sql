-- The counting state. Times are epoch milliseconds (bigint, UTC by definition), so the
-- contract's "strictly newer mtime" comparisons are exact. Event ids sort in plain byte order
-- (COLLATE "C"), as the contract's tie-break requires, whatever the database's default collation.

-- One row per RSVP: its current version (the greatest mtime seen).
CREATE TABLE rsvps (
  rsvp_id   bigint  PRIMARY KEY,
  mtime     bigint  NOT NULL,
  event_id  text    COLLATE "C" NOT NULL,
  response  text    NOT NULL,
  guests    integer NOT NULL CHECK (guests >= 0),
  member_id bigint
) WITH (fillfactor = 90);

-- Per event: the maintained yes count and attendees (changed in the same transaction as the
-- RSVPs), and the details of the newest message that named the event.
-- The counts carry no CHECK (>= 0): they are moved by INSERT ... ON CONFLICT DO UPDATE with the
-- delta as the proposed row, and PostgreSQL checks constraints on that proposed row before it
-- turns into an update, so a -1 delta would be refused.
CREATE TABLE events (
  event_id      text    COLLATE "C" PRIMARY KEY,
  yes_rsvps     integer NOT NULL DEFAULT 0,
  attendees     integer NOT NULL DEFAULT 0,
  details_mtime bigint,
  -- rule 5's tie-break: on an equal mtime the message with the greater rsvp_id wins
  details_rsvp_id bigint,
  name          text,
  url           text,
  time_ms       bigint,
  group_id      bigint,
  venue_id      bigint
) WITH (fillfactor = 80);

-- Top k all-time reads the first k entries of this index; events without a yes stay out of it.
CREATE INDEX events_topk ON events (yes_rsvps DESC, event_id) WHERE yes_rsvps > 0;

-- Per event and UTC day of the RSVP's current mtime: what top k on a date and in a window add up.
CREATE TABLE event_day_counts (
  day       date    NOT NULL,
  event_id  text    COLLATE "C" NOT NULL,
  yes_rsvps integer NOT NULL,
  attendees integer NOT NULL,
  PRIMARY KEY (day, event_id)
) WITH (fillfactor = 80);

CREATE INDEX event_day_counts_topk ON event_day_counts (day, yes_rsvps DESC, event_id) WHERE yes_rsvps > 0;

-- Details, each last-writer-wins by (mtime, rsvp_id) of the message that carried them.
CREATE TABLE groups (
  group_id bigint PRIMARY KEY,
  mtime    bigint NOT NULL,
  rsvp_id  bigint NOT NULL,
  name     text,
  urlname  text,
  city     text,
  country  text,
  state    text,
  lat      double precision,
  lon      double precision,
  topics   jsonb  NOT NULL DEFAULT '[]'
);

CREATE TABLE venues (
  venue_id bigint PRIMARY KEY,
  mtime    bigint NOT NULL,
  rsvp_id  bigint NOT NULL,
  name     text,
  lat      double precision,
  lon      double precision
);

CREATE TABLE members (
  member_id bigint PRIMARY KEY,
  mtime     bigint NOT NULL,
  rsvp_id   bigint NOT NULL,
  name      text,
  photo     text
);
