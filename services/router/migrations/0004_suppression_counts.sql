-- The suppression trend counts suppressed routes by category, owner, provider and schedule in one
-- GROUPING SETS scan; this partial index holds exactly those columns, so the scan reads the index
-- alone instead of every suppressed row of the table.
CREATE INDEX IF NOT EXISTS route_decisions_suppression_counts
    ON route_decisions (category, owner, provider, schedule_id) WHERE action = 'suppress';
