"""Retries of every delivery family (one machinery, the family a parameter): stored jobs, retry plans,
worker runs and their schedules, governed execution (acknowledgements, approvals bound to a digest)
and execution records. See :mod:`cavra_contracts.retries` and :mod:`cavra_contracts.approvals`."""
