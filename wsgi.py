"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""
from aspsp import create_app

app = create_app()
celery = app.extensions["celery"]
