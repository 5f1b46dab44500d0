"""Imports every context's models of the platform so that `Base.metadata` holds their tables.
The whole schema, the sandbox's tables included, is `bank.schema()` (Alembic, the drift check)."""
from consent import models as consent_models  # noqa: F401
from developer_portal import models as portal_models  # noqa: F401

from . import idempotency as idempotency_models  # noqa: F401  (idempotency_keys)
from . import request_log as request_log_models  # noqa: F401  (request_log_entries)
from .audit import models as audit_models  # noqa: F401
from .cof import models as cof_models  # noqa: F401
from .db import Base  # noqa: F401
from .events import models as events_models  # noqa: F401
from .identity import models as identity_models  # noqa: F401
from .ledger import models as ledger_models  # noqa: F401
from .ledger import scheme as ledger_scheme  # noqa: F401  (the simulated scheme's record)
from .oauth import models as oauth_models  # noqa: F401
from .pis import models as pis_models  # noqa: F401
from .vrp import models as vrp_models  # noqa: F401

metadata = Base.metadata
