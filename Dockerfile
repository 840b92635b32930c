# briefbot in a container: `docker compose up -d` (README, "Docker"). Debian's slim image with
# Debian's Python 3.11; the bot runs as an unprivileged user, its articles and database on volumes.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv sqlite3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/briefbot \
        --shell /usr/sbin/nologin briefbot \
 && install -d -o briefbot -g briefbot /var/lib/briefbot /var/lib/briefbot/content \
        /var/lib/briefbot/data /var/lib/briefbot/backups

WORKDIR /opt/briefbot
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# EXTRAS=full-text adds trafilatura for `full_text: true` feeds.
ARG EXTRAS=""
RUN python3 -m venv .venv \
 && .venv/bin/pip install --no-compile "/opt/briefbot${EXTRAS:+[$EXTRAS]}" \
 && .venv/bin/python -m compileall -q .venv/lib

COPY deploy/config.production.yaml /etc/briefbot/config.yaml

USER briefbot
WORKDIR /var/lib/briefbot
VOLUME ["/var/lib/briefbot/content", "/var/lib/briefbot/data"]

# Unhealthy when a person is needed: a paused chat, a failing feed, an overdue briefing.
HEALTHCHECK --interval=2m --timeout=30s --start-period=2m --retries=2 \
    CMD ["/opt/briefbot/.venv/bin/briefbot", "--config", "/etc/briefbot/config.yaml", "status", "--check"]

ENTRYPOINT ["/opt/briefbot/.venv/bin/briefbot", "--config", "/etc/briefbot/config.yaml"]
CMD ["run"]
