# The platform's one image: web (gunicorn), worker and beat (Celery), and the migrate job.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    INSTANCE_PATH=/app/instance \
    GUNICORN_CMD_ARGS="--config /app/deploy/gunicorn.conf.py"

WORKDIR /app
RUN useradd --create-home --uid 10001 aspsp

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN mkdir -p /app/instance && chown aspsp:aspsp /app/instance
USER aspsp

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4)"]
# Threaded workers with keep-alive, 4 x 4 threads: deploy/gunicorn.conf.py (via GUNICORN_CMD_ARGS).
CMD ["gunicorn", "wsgi:app"]
