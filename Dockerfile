FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY proxy ./proxy
RUN pip install --no-cache-dir .
COPY config ./config
ENV SSAI_HOST=0.0.0.0 SSAI_PORT=8080 SSAI_DATA_DIR=/data
EXPOSE 8080
# `docker run -p 8080:8080 IMAGE` runs the demo; mount a channel file and use `serve` for real channels.
CMD ["ssai-proxy", "demo"]
