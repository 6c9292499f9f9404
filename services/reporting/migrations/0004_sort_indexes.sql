-- Sorted history pages (sort=state / -state) walk an index in sort order, like the default order does:
-- the partial history_state index leaves out the items without a state, which a sort still lists.
-- kind and schedule are served by history_kind and history_schedule (both directions).
CREATE INDEX IF NOT EXISTS history_state_sort
    ON history_items (acknowledgement_state, created_at DESC, seq DESC, ordinal DESC) INCLUDE (item_id);
