-- Sorted route state pages walk an index of routes in sort order (either direction), checking each
-- route's plan against latest_plans, instead of sorting every route of the current plans.
CREATE INDEX IF NOT EXISTS routes_schedule_sort ON routes (schedule_id, provider, owner, route_id);
CREATE INDEX IF NOT EXISTS routes_age_sort ON routes (route_created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS routes_acknowledged_sort ON routes (acknowledged_at, route_id);
CREATE INDEX IF NOT EXISTS routes_owner_sort ON routes (owner, route_id);
CREATE INDEX IF NOT EXISTS routes_provider_sort ON routes (provider, route_id);
CREATE INDEX IF NOT EXISTS routes_state_sort ON routes (state, route_id);
