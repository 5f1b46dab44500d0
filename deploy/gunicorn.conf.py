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
# The error and access logs as JSON lines like the app's, with the response's
# x-fapi-interaction-id and the query string's secrets masked (aspsp/logs.py).
logger_class = "aspsp.logs.GunicornLogger"

# Prometheus metrics (aspsp/metrics.py, issue 14): every worker is a process of its own, so
# prometheus-client keeps each one's values in files in PROMETHEUS_MULTIPROC_DIR and a scrape
# of any worker sums them. Set here, before any worker imports the app; a Celery worker on
# this host started with the same directory adds its figures (webhook deliveries) to them.
# The default is per port: two deployments on one host never add up each other's figures.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(
    os.environ.get("TMPDIR", "/tmp"), f"aspsp-prometheus-{bind.rsplit(':', 1)[-1]}"))


def on_starting(server):
    """A fresh start: the files of processes that no longer run are removed (the values of
    a previous run; a live Celery worker's files stay)."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        pid = name.rsplit("_", 1)[-1].split(".", 1)[0]
        if name.endswith(".db") and pid.isdigit() and not _alive(int(pid)):
            os.remove(os.path.join(directory, name))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def child_exit(server, worker):
    """A worker ended: its live gauges (the database pool) stop counting; its counters stay."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)
