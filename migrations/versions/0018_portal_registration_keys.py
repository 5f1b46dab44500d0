"""portal one-click registration: no schema change (the registration keys live in signing_keys)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 07:00:00

The sandbox's one-click registration (sandbox/portal_register.py) keeps each app's
registration key in the existing key store (signing_keys, owner 'sandbox-reg', kid
'sandbox-registration-<app_id>', its private half sealed), and the registered client_id on
portal_apps.client_id (migration 0014). This revision changes nothing: it holds the number
0018 that was set aside for it, so the chain 0017 -> 0019 stays whole.
"""

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
