"""Worker health of every monitored family's retry worker, and health alerts: plans with duplicate
suppression, their delivery through the pipeline, acknowledgements, history, dashboards and the timer
that checks health by itself (spec §3.14-3.15). The family is a parameter throughout."""
