"""The Evidence Console: pages, fragments, actions and the live feed, served by the gateway."""
