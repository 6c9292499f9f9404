"""The one registry naming every contract, its subject and its schema version.

Doc generators (JSON Schema snapshots, ``docs/asyncapi.yaml``) and the drift test read this
table; services look contracts up here by subject.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from cavra_contracts import (
    acknowledgements,
    actors,
    approvals,
    audit,
    deliveries,
    escalations,
    evidence,
    executive,
    failures,
    health,
    identity,
    notifications,
    queries,
    recovery,
    reporting,
    retries,
    scheduler,
    schedules,
)
from cavra_contracts.base import Contract
from cavra_contracts.subjects import STREAMS, MessageSpec

CONTRACTS: tuple[type[Contract], ...] = (
    scheduler.ScheduleStateV1,
    scheduler.FieldProblem,
    scheduler.UpsertScheduleV1,
    scheduler.RecordDrillRunV1,
    scheduler.ScheduleUpsertedV1,
    scheduler.DrillRunRecordedV1,
    scheduler.ScheduleEvaluatedV1,
    scheduler.CommandRejectedV1,
    scheduler.ScheduleReportQueryV1,
    scheduler.HistoryReportQueryV1,
    scheduler.ListSchedulesQueryV1,
    scheduler.ScheduleListV1,
    notifications.MaintenanceWindowRefV1,
    notifications.OwnerAvailabilityV1,
    notifications.RouteDecisionV1,
    notifications.NotificationPlanV1,
    notifications.NotificationSummaryV1,
    notifications.NotificationContentV1,
    notifications.DeliveryOptions,
    notifications.PlanNotificationV1,
    notifications.NotificationPlannedV1,
    notifications.PlanRejectedV1,
    notifications.RouteHistoryQueryV1,
    notifications.SuppressionTrendQueryV1,
    notifications.PlanQueryV1,
    notifications.AttemptEvidenceV1,
    notifications.RouteDeliveryV1,
    notifications.NotificationDeliveredV1,
    notifications.DeliveryStatusQueryV1,
    notifications.ConnectorsQueryV1,
    actors.ActorV1,
    deliveries.DeliveryTargetV1,
    deliveries.FactV1,
    deliveries.MessageContentV1,
    deliveries.DeliverMessageV1,
    deliveries.MessageDeliveredV1,
    acknowledgements.AcknowledgementV1,
    acknowledgements.AckTargetV1,
    acknowledgements.RouteScopeV1,
    acknowledgements.RecordAcknowledgementsV1,
    acknowledgements.AcknowledgementsRecordedV1,
    acknowledgements.AcknowledgementRejectedV1,
    acknowledgements.RouteStatesQueryV1,
    escalations.GenerateEscalationPlanV1,
    escalations.EscalationPlanGeneratedV1,
    escalations.EscalationPlanQueryV1,
    escalations.RouteEscalatedV1,
    escalations.EscalationCancelledV1,
    reporting.NotificationHistoryQueryV1,
    reporting.NotificationDashboardQueryV1,
    reporting.NotificationHistoryV1,
    reporting.OutstandingRouteV1,
    reporting.LatestEscalationPlanV1,
    reporting.NotificationDashboardV1,
    reporting.BreachedRecoveryV1,
    identity.ApiTokenCreatedV1,
    identity.ApiTokenRevokedV1,
    audit.AuditFiltersV1,
    audit.AuditCountsV1,
    audit.GenerateAuditPackageV1,
    audit.DeliverAuditPackageV1,
    audit.CancelAuditScheduleV1,
    audit.AuditPackageGeneratedV1,
    audit.AuditDeliveryPlannedV1,
    audit.AuditScheduleCreatedV1,
    audit.AuditScheduleCancelledV1,
    audit.AuditRequestRejectedV1,
    audit.AuditPackageQueryV1,
    audit.AuditKeysQueryV1,
    audit.AuditChainQueryV1,
    audit.AuditSchedulesQueryV1,
    evidence.EvidenceRecordV1,
    recovery.RecoveryReportQueryV1,
    executive.ExecutiveScheduleV1,
    executive.RunExecutiveReportV1,
    executive.DeliverExecutiveReportV1,
    executive.ExecutiveReportGeneratedV1,
    executive.ExecutiveReportRunRecordedV1,
    executive.ExecutiveReportDeliveryRequestedV1,
    executive.ExecutiveRequestRejectedV1,
    executive.ExecutiveReportQueryV1,
    executive.ExecutiveRunsQueryV1,
    executive.ExecutiveRunQueryV1,

    health.HealthWindowV1,
    health.DeliverHealthAlertV1,
    health.AcknowledgeHealthAlertV1,
    health.HealthAlertPlannedV1,
    health.HealthAlertAcknowledgedV1,
    health.HealthAlertRejectedV1,
    health.WorkerHealthQueryV1,
    health.HealthAlertHistoryQueryV1,
    health.HealthAlertDashboardQueryV1,

    recovery.GenerateRecoveryPlaybookV1,
    recovery.CloseRecoveryV1,
    recovery.PlanRecoveryEscalationV1,
    recovery.DeliverRecoveryEscalationV1,
    recovery.AcknowledgeRecoveryEscalationV1,
    recovery.ConnectorRecoveryPlaybookGeneratedV1,
    recovery.ConnectorRecoveryClosedV1,
    recovery.RecoveryEscalationPlannedV1,
    recovery.RecoveryEscalationDeliveryRequestedV1,
    recovery.RecoveryEscalationAcknowledgedV1,
    recovery.RecoveryRequestRejectedV1,
    recovery.RecoveryPlaybooksQueryV1,
    recovery.RecoveryEscalationPlansQueryV1,
    recovery.RecoveryEscalationPlanQueryV1,

    retries.RetryPolicyV1,
    retries.WorkerScheduleV1,
    retries.GenerateRetryPlanV1,
    retries.RunRetryWorkerV1,
    retries.ExecuteRetryV1,
    retries.SetWorkerScheduleV1,
    retries.RetryRequestRejectedV1,
    retries.RetryPlanGeneratedV1,
    retries.WorkerRunCompletedV1,
    retries.RetryExecutedV1,
    retries.RetryExecutionRefusedV1,
    retries.WorkerScheduleSetV1,
    retries.RetryPlanQueryV1,
    retries.WorkerRunsQueryV1,
    retries.RetryExecutionsQueryV1,
    retries.WorkerScheduleQueryV1,
    approvals.AcknowledgeRetryV1,
    approvals.GenerateApprovalPlanV1,
    approvals.DecideApprovalV1,
    approvals.RetryAcknowledgedV1,
    approvals.ApprovalPlanGeneratedV1,
    approvals.ApprovalDecidedV1,
    approvals.ApprovalRefusedV1,
    approvals.ApprovalExpiredV1,
    approvals.ApprovalsQueryV1,
    queries.QueryReplyV1,
    queries.HealthQueryV1,
    queries.HealthReplyV1,
    failures.MessageRejectedV1,
    failures.OutboxMessageSetAsideV1,
)
"""Every message contract (commands, events, queries and replies)."""

DOCUMENTS: dict[str, type[BaseModel]] = {
    schedules.SCHEDULE_FILE_SCHEMA: schedules.RollbackDrillScheduleV1,
    schedules.HISTORY_FILE_SCHEMA: schedules.RollbackDrillHistoryV1,
    schedules.SCHEDULE_REPORT_SCHEMA: schedules.RollbackDrillScheduleReportV1,
    schedules.HISTORY_REPORT_SCHEMA: schedules.RollbackDrillHistoryReportV1,
    "cavra.drillops.scheduler.drill-run.v1": schedules.DrillRunV1,
}
"""Public documents (files and reports) keyed by their schema_version."""

_BY_SUBJECT: dict[str, type[Contract]] = {c.MESSAGE.subject: c for c in CONTRACTS if c.MESSAGE.channel}


def contract_for_subject(subject: str) -> type[Contract]:
    """Return the contract class that travels on ``subject``; KeyError if none."""
    return _BY_SUBJECT[subject]


def messages() -> Iterable[MessageSpec]:
    """Metadata of every registered contract."""
    return (c.MESSAGE for c in CONTRACTS)


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of every contract and document, keyed by schema_version."""
    out: dict[str, dict[str, Any]] = {}
    for contract in CONTRACTS:
        out[contract.MESSAGE.schema_version] = contract.model_json_schema(mode="serialization")
    for version, model in DOCUMENTS.items():
        out[version] = model.model_json_schema(mode="validation")
    return out


def schema_snapshot_text(schema: dict[str, Any]) -> str:
    """Canonical text of one committed JSON Schema snapshot."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def asyncapi_document() -> dict[str, Any]:
    """An AsyncAPI 3.0 description of every subject, generated from this registry."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    components: dict[str, Any] = {"messages": {}, "schemas": {}}
    for contract in CONTRACTS:
        spec = contract.MESSAGE
        components["schemas"][contract.__name__] = contract.model_json_schema(
            mode="serialization", ref_template="#/components/schemas/{model}"
        )
        if not spec.channel:
            continue
        key = f"{spec.kind}_{spec.service}_{spec.name}"
        components["messages"][contract.__name__] = {
            "name": contract.__name__,
            "title": spec.schema_version,
            "summary": spec.summary or (contract.__doc__ or "").strip(),
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string", "description": "= CloudEvents id = message_id"},
                    "ce-type": {"type": "string", "const": spec.subject},
                },
            },
            "payload": {"$ref": f"#/components/schemas/{contract.__name__}"},
        }
        channels[key] = {
            "address": spec.subject,
            "messages": {contract.__name__: {"$ref": f"#/components/messages/{contract.__name__}"}},
        }
        action = "receive" if spec.kind in ("cmd", "qry") else "send"
        operations[key] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"{spec.service}: {spec.summary}",
        }
    _hoist_defs(components["schemas"])
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CAVRA Drill Ops messages",
            "version": "1.0.0",
            "description": "Generated from cavra_contracts.registry by `make contracts`. Streams: "
            + "; ".join(f"{s.name} ({', '.join(s.subjects)})" for s in STREAMS),
        },
        "channels": channels,
        "operations": operations,
        "components": components,
    }


def _hoist_defs(schemas: dict[str, Any]) -> None:
    for name in list(schemas):
        defs = schemas[name].pop("$defs", {})
        for def_name, def_schema in defs.items():
            schemas.setdefault(def_name, def_schema)
