-- An event's history (GET /api/v1/events/{event_id}/history) reads its per-hour counts over a
-- range of hours. The primary key leads with the hour, so without this index that read would scan
-- every event's rows of those hours. Neither column changes when counts move, so updates of
-- event_hour_counts stay HOT-eligible.
CREATE INDEX event_hour_counts_by_event ON event_hour_counts (event_id, hour_start);
