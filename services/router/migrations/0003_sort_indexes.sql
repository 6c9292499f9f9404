-- Sorted route history pages walk an index in sort order (either direction): (column, newest first,
-- route id). Each also serves the equality filter on its column with the default order.
CREATE INDEX IF NOT EXISTS route_decisions_owner_sort ON route_decisions (owner, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_provider_sort ON route_decisions (provider, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_action_sort ON route_decisions (action, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_category_sort ON route_decisions (category, created_at DESC, route_id);
