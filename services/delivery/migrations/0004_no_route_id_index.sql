-- Nothing looks deliveries up by route id (other services never read this schema: they listen to
-- events), and every index costs each route's write: drop the one 0002 added.
DROP INDEX IF EXISTS deliveries_route;
