"""Deployment files of the platform; `deploy.prod_local` runs the production topology on one
machine (`make prod-local`)."""
