"""gunicorn settings of the web container. The image names this file in GUNICORN_CMD_ARGS
(Dockerfile), so `gunicorn wsgi:app` reads it whatever command runs it; options given on the
command line (docker-compose.yml's --bind, --workers) still win.

Threaded workers with keep-alive (issue 8, bench/README.md "Tokens"): sync workers close the
connection after every response, so every request paid a TCP handshake and gunicorn's
per-connection work, and nginx's upstream keep-alive (deploy/nginx/aspsp.conf: keepalive 32,
HTTP/1.1) was wasted. Measured over HTTP on the token endpoint, the same 4 workers: gthread
gave ~1.4x the tokens/s of sync at ~8 % less CPU per token. The app holds no per-request state
outside the request (one SQLAlchemy session per unit of work, a pool per process, thread-safe
caches), so a worker's threads share it safely; while one thread waits on PostgreSQL or
Redis, another runs.
"""
import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", "4"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
# Longer than nginx's upstream keepalive_timeout (60 s by default), so that the proxy, not
# gunicorn, closes an idle connection: no request is sent on a socket gunicorn is closing.
keepalive = 75
accesslog = "-"
