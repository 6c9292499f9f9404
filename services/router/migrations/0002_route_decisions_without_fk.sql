-- A plan and its route decisions are written by one statement pair in one transaction (planning.store);
-- the foreign key only added a lookup per route row on the hot path.
ALTER TABLE route_decisions DROP CONSTRAINT IF EXISTS route_decisions_plan_id_fkey;
