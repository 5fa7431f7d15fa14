FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxy ./proxy
RUN pip install --no-cache-dir .
COPY config ./config
# Not root: the proxy fetches what origins and ad servers point at and runs ffmpeg on what they send.
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin ssai \
    && mkdir -p /data /assets && chown ssai:ssai /data /assets
USER ssai
ENV SSAI_HOST=0.0.0.0 SSAI_PORT=8080 SSAI_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SSAI_PORT', '8080'), timeout=2)"]
# `docker run -p 8080:8080 IMAGE` runs the demo; mount a channel file and use `serve` for real channels, or
# deploy/compose.yaml for a cluster (a control process and two edges behind nginx, on Redis and PostgreSQL).
CMD ["ssai-proxy", "demo"]
