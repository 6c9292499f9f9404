-- The router's route id (RouteDecisionV1.route_id) of each delivery: acknowledgements key on it.
ALTER TABLE deliveries ADD COLUMN route_id text NOT NULL DEFAULT '';
CREATE INDEX deliveries_route ON deliveries (route_id);
