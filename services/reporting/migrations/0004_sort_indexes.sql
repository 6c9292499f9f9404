-- Sorted history pages (sort=state / -state) walk an index in sort order, like the default order does:
-- the partial history_state index leaves out the items without a state, which a sort still lists.
-- kind and schedule are served by history_kind and history_schedule (both directions).
CREATE INDEX IF NOT EXISTS history_state_sort
    ON history_items (acknowledgement_state, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id);

-- A filter (kind, state, source) with another sort walks (filter, sort, position): without it the
-- planner walks the sort index hoping to meet the filter soon (seconds at 1,000,000 items).
CREATE INDEX IF NOT EXISTS history_kind_schedule_sort ON history_items (metadata_kind, schedule_id, created_at DESC, seq DESC, ordinal DESC)
    INCLUDE (item_id);
CREATE INDEX IF NOT EXISTS history_kind_state_sort ON history_items (metadata_kind, acknowledgement_state, created_at DESC, seq DESC, ordinal DESC)
    INCLUDE (item_id);
CREATE INDEX IF NOT EXISTS history_state_kind_sort ON history_items (acknowledgement_state, metadata_kind, created_at DESC, seq DESC, ordinal DESC)
    INCLUDE (item_id) WHERE acknowledgement_state <> '';
CREATE INDEX IF NOT EXISTS history_state_schedule_sort ON history_items (acknowledgement_state, schedule_id, created_at DESC, seq DESC, ordinal DESC)
    INCLUDE (item_id) WHERE acknowledgement_state <> '';
CREATE INDEX IF NOT EXISTS history_source_kind_sort ON history_items (source_key, metadata_kind, created_at DESC, seq DESC, ordinal DESC)
    INCLUDE (item_id) WHERE source_key <> '';
CREATE INDEX IF NOT EXISTS history_source_schedule_sort ON history_items (source_key, schedule_id, created_at DESC, seq DESC, ordinal DESC)
    INCLUDE (item_id) WHERE source_key <> '';
CREATE INDEX IF NOT EXISTS history_source_state_sort ON history_items (source_key, acknowledgement_state, created_at DESC, seq DESC, ordinal DESC)
    INCLUDE (item_id) WHERE source_key <> '';
