-- Sorted route state pages walk an index of routes in sort order (either direction), checking each
-- route's plan against latest_plans, instead of sorting every route of the current plans.
CREATE INDEX IF NOT EXISTS routes_schedule_sort ON routes (schedule_id, provider, owner, route_id);
CREATE INDEX IF NOT EXISTS routes_age_sort ON routes (route_created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS routes_acknowledged_sort ON routes (acknowledged_at, route_id);
CREATE INDEX IF NOT EXISTS routes_owner_sort ON routes (owner, route_id);
CREATE INDEX IF NOT EXISTS routes_provider_sort ON routes (provider, route_id);
CREATE INDEX IF NOT EXISTS routes_state_sort ON routes (state, route_id);

-- An equality filter (owner, provider, state) with another sort walks (filter, sort, route id): without
-- it the planner walks the sort index hoping to meet the filter soon, which at 1,000,000 routes took
-- seconds when the filter's rows sat at the far end (measured by bench/bench_console_sort.py).
CREATE INDEX IF NOT EXISTS routes_owner_schedule_sort ON routes (owner, schedule_id, provider, route_id);
CREATE INDEX IF NOT EXISTS routes_owner_age_sort ON routes (owner, route_created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS routes_owner_acknowledged_sort ON routes (owner, acknowledged_at, route_id);
CREATE INDEX IF NOT EXISTS routes_owner_provider_sort ON routes (owner, provider, route_id);
CREATE INDEX IF NOT EXISTS routes_owner_state_sort ON routes (owner, state, route_id);
CREATE INDEX IF NOT EXISTS routes_provider_schedule_sort ON routes (provider, schedule_id, owner, route_id);
CREATE INDEX IF NOT EXISTS routes_provider_age_sort ON routes (provider, route_created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS routes_provider_acknowledged_sort ON routes (provider, acknowledged_at, route_id);
CREATE INDEX IF NOT EXISTS routes_provider_owner_sort ON routes (provider, owner, route_id);
CREATE INDEX IF NOT EXISTS routes_provider_state_sort ON routes (provider, state, route_id);
CREATE INDEX IF NOT EXISTS routes_state_schedule_sort ON routes (state, schedule_id, provider, owner, route_id);
CREATE INDEX IF NOT EXISTS routes_state_age_sort ON routes (state, route_created_at DESC, route_id);
CREATE INDEX IF NOT EXISTS routes_state_acknowledged_sort ON routes (state, acknowledged_at, route_id);
CREATE INDEX IF NOT EXISTS routes_state_owner_sort ON routes (state, owner, route_id);
CREATE INDEX IF NOT EXISTS routes_state_provider_sort ON routes (state, provider, route_id);
