-- Task events by type and arrival: what other modules read to follow a goal (outreach counts a
-- delivered message as converted when its recipient's goal event arrives within the window).
create index task_event_by_type on task_event (tenant_id, event_type, received_at);
