"""Provider connectors: config, payloads, HTTP delivery with retries, redacted evidence.

No NATS and no database here. The delivery service loads a :class:`ConnectorSet` once, opens one
:class:`HttpTransport` (keep-alive pools, capped response bodies), builds a :class:`Notification`
per route and calls::

    outcome = await deliver(connector, notification, client=transport, policy=policy,
                            idempotency_key=key, sleep=asyncio.sleep)

and folds ``outcome.outcome`` into the connector's :class:`QuarantineState`.
"""

from cavra_delivery.connectors.config import (
    CONNECTOR_TYPES,
    ConnectorConfig,
    ConnectorConfigError,
    ConnectorSet,
    ConnectorType,
    load_connector_config,
    normalise_type,
    parse_connector_config,
    secret_values,
)
from cavra_delivery.connectors.http import (
    AttemptEvidence,
    DeliveryOutcome,
    RetryPolicy,
    deliver,
    parse_retry_after,
)
from cavra_delivery.connectors.notification import Notification, Severity
from cavra_delivery.connectors.payloads import HttpRequest
from cavra_delivery.connectors.providers import PROVIDERS, Provider, build_requests
from cavra_delivery.connectors.providers.jira import jira_label
from cavra_delivery.connectors.providers.servicenow import servicenow_correlation_id
from cavra_delivery.connectors.providers.siem import hec_channel
from cavra_delivery.connectors.quarantine import (
    QuarantinePolicy,
    QuarantineState,
    admit,
    is_quarantined,
    record_failure,
    record_outcome,
    record_success,
)
from cavra_delivery.connectors.redaction import (
    REDACTED,
    SecretLeakError,
    assert_clean,
    redact,
    scrub,
    secret_pattern,
    target_host,
)
from cavra_delivery.connectors.transport import HttpTransport, Response, TransportError

__all__ = [
    "CONNECTOR_TYPES",
    "PROVIDERS",
    "Provider",
    "REDACTED",
    "AttemptEvidence",
    "ConnectorConfig",
    "ConnectorConfigError",
    "ConnectorSet",
    "ConnectorType",
    "DeliveryOutcome",
    "HttpRequest",
    "HttpTransport",
    "Notification",
    "QuarantinePolicy",
    "QuarantineState",
    "Response",
    "RetryPolicy",
    "SecretLeakError",
    "Severity",
    "TransportError",
    "admit",
    "assert_clean",
    "build_requests",
    "deliver",
    "hec_channel",
    "is_quarantined",
    "jira_label",
    "load_connector_config",
    "normalise_type",
    "parse_connector_config",
    "parse_retry_after",
    "record_failure",
    "record_outcome",
    "record_success",
    "redact",
    "scrub",
    "secret_pattern",
    "secret_values",
    "servicenow_correlation_id",
    "target_host",
]
