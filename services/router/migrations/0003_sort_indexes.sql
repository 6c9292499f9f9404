-- Sorted route history pages walk an index in sort order (either direction): (column, newest first,
-- route id). Each also serves the equality filter on its column with the default order.
CREATE INDEX IF NOT EXISTS route_decisions_owner_sort ON route_decisions (owner, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_provider_sort ON route_decisions (provider, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_action_sort ON route_decisions (action, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_category_sort ON route_decisions (category, created_at DESC, route_id);

-- An equality filter (provider, action, category) with another sort walks (filter, sort, newest first,
-- route id) instead of the sort index hoping to meet the filter soon (seconds at 1,000,000 routes).
CREATE INDEX IF NOT EXISTS route_decisions_provider_owner_sort ON route_decisions (provider, owner, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_provider_action_sort ON route_decisions (provider, action, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_provider_category_sort ON route_decisions (provider, category, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_action_owner_sort ON route_decisions (action, owner, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_action_provider_sort ON route_decisions (action, provider, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_action_category_sort ON route_decisions (action, category, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_category_owner_sort ON route_decisions (category, owner, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_category_provider_sort ON route_decisions (category, provider, created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS route_decisions_category_action_sort ON route_decisions (category, action, created_at DESC, route_id);
