"""Versioned message contracts of CAVRA Drill Ops.

Everything that crosses a service boundary is defined here: the CloudEvents-compatible
envelope, the subject names, and one frozen pydantic model per message. This package
depends on pydantic only, so the gateway, tests and doc generators can import it without
NATS or PostgreSQL.
"""

from cavra_contracts.envelope import Envelope, make_envelope

__all__ = ["Envelope", "make_envelope"]
