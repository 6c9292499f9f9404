"""Connector recovery (spec §3.18-3.20): playbooks, closures, the recovery SLO report and recovery
escalations, inside the delivery service (it reads the deliveries and retry executions it owns)."""
