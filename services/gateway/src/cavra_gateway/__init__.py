"""Gateway: the public HTTP surface (``/runtime/go-pilot/...``) over the message bus.

It owns no tables and reads none: queries are NATS request/reply to the owning service,
mutations are commands on JetStream whose outcome event it waits for, a bounded time.
"""

SERVICE = "gateway"
