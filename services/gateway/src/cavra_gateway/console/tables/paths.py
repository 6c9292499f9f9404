"""The REST API paths the console's tables read (one home, as the API names them)."""

from __future__ import annotations

from typing import Final

NP: Final = "/runtime/go-pilot/rollback-drill-notifications"
AD: Final = f"{NP}/acknowledgements/audit-delivery"
EXECUTIVE: Final = f"{AD}/recovery-executive-report"
