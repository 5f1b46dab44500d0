"""The sandbox: seed data, the test directory, scenario users and magic values.

The platform never imports it: `create_app` calls `init_app` only while SANDBOX_ENABLED is on,
and the sandbox plugs itself in through the platform's registries: its directory as the trust
anchor `sandbox`, its demo customers (who get the sandbox's SCA shortcuts), the demo logins
that `make run` prints, its clock (moved forward for every process: sandbox/clock.py), its
commands and its endpoints.
"""
from __future__ import annotations

from flask import Flask

DEMO_LOGINS = "sandbox_demo_logins"     # app.extensions key: () -> the demo logins as text


def init_app(app: Flask) -> None:
    from aspsp import conformance_cli
    from aspsp.identity.services import register_demo_usernames
    from aspsp.oauth.trust import register_anchor

    from . import (authenticator, cli, clock, conformance, control, directory_cli,
                   directory_views, inspector, inspector_pages, seed, trust_anchor)
    clock.init_app(app)
    cli.init_app(app)
    directory_cli.init_app(app)
    authenticator.init_app(app)
    register_anchor(app, trust_anchor.NAME, trust_anchor.anchor_for)
    register_demo_usernames(user.username for user in seed.DEMO_USERS)
    app.extensions[DEMO_LOGINS] = seed.demo_users_text
    if app.config["SANDBOX_ENABLED"]:
        app.register_blueprint(directory_views.bp)
        from . import scenarios, test_data_views
        scenarios.init_app(app)                     # magic values, scenario users, their page
        app.register_blueprint(test_data_views.bp)  # an app's test data in the portal
        from . import outbox                          # the portal's mails, for the sandbox
        app.register_blueprint(outbox.bp)
        from . import certificates, portal_directory   # the portal's orgs, apps, certificates
        app.extensions["developer_portal.sandbox"] = portal_directory.PortalDirectory()
        app.register_blueprint(certificates.bp)
        from aspsp.secrets_at_rest import register_sealed   # `flask keys rewrap` re-seals it
        register_sealed(app, "sandbox CA keys", certificates.rewrap)
        app.register_blueprint(control.bp)              # /sandbox/control: the control API
        app.register_blueprint(inspector.bp)            # /sandbox/inspector/<id>: webhooks in
        app.register_blueprint(inspector_pages.bp)      # its page in the developer portal
        from . import portal_register                    # the portal's one-click registration
        portal_register.init_app(app)
        # `flask conformance run` without --config: the suite's configuration for this sandbox
        app.extensions[conformance_cli.SANDBOX_CONFIGURATION] = conformance.sandbox_configuration
