"""WSGI entry point for gunicorn (`gunicorn wsgi:app`) and Celery (`celery -A wsgi:celery`)."""
from bank import create_app

app = create_app()
celery = app.extensions["celery"]
