"""WSGI and CLI entry: `flask --app app …`, `gunicorn app:app`."""
from did_app import create_app

app = create_app()
