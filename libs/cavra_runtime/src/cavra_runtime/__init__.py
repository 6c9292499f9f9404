"""Plumbing every CAVRA Drill Ops service shares.

* ``bus`` — the only module that imports ``nats``: streams, publishing, durable pull
  consumers with ack-after-commit, nak with backoff, dead-lettering, request/reply,
  key/value buckets;
* ``outbox`` / ``inbox`` — transactional outbox relay and idempotent-consumer inbox;
* ``migrate`` — numbered, forward-only SQL migrations per service schema;
* ``db`` — asyncpg pools bound to one service schema;
* ``embedded`` — the NATS and PostgreSQL servers the project brings itself;
* ``service`` — the lifecycle of one service process;
* ``settings`` / ``logging`` — environment configuration and structlog JSON logs.
"""
