"""Imports every context's models so `Base.metadata` is complete (Alembic, drift check)."""
from .db import Base  # noqa: F401
from .identity import models as identity_models  # noqa: F401
from .ledger import models as ledger_models  # noqa: F401

metadata = Base.metadata
