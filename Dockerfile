# One image for every long-running piece of oee_pipelines: the Dagster webserver, the daemon, the
# code server and run workers, the API sidecar and the MQTT ingester (deploy/compose.yaml, the Helm
# values in deploy/values.yaml). The install steps are scripts/install-image.sh, which
# oee_pipelines_tests/test_wheel.py also runs into a fresh virtual environment, so this recipe is
# exercised by `make test` even where no container engine is available.
#
#   docker build -t oee-pipelines:0.1.0 .
#
# The package is installed as a wheel (migrations, instance template and static files inside it),
# every dependency at the version and hash of requirements/lock.txt; nothing runs as root.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
# Only what the wheel and the lock are made from (.dockerignore keeps the rest of a checkout out).
COPY pyproject.toml README.md dagster.yaml workspace.yaml ./
COPY requirements/ requirements/
COPY sql/ sql/
COPY oee_pipelines/ oee_pipelines/
COPY scripts/install-image.sh scripts/
RUN PIP_NO_CACHE_DIR=1 bash scripts/install-image.sh /src /opt/oee

FROM python:3.11-slim-bookworm
# libpq-free: psycopg and psycopg2 come as binary wheels from the lock.
RUN groupadd --system --gid 10001 oee \
    && useradd --system --uid 10001 --gid oee --home-dir /var/lib/oee --create-home oee \
    && mkdir -p /var/lib/oee/dagster_home /var/lib/oee/data \
    && chown -R oee:oee /var/lib/oee
COPY --from=build /opt/oee /opt/oee
# The production instance (PostgreSQL storage from DAGSTER_PG_*, queued runs with per-source-system
# limits, retries, run monitoring); mount another dagster.yaml over it to change it.
COPY --chown=oee:oee deploy/dagster.production.yaml /var/lib/oee/dagster_home/dagster.yaml
ENV PATH=/opt/oee/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/var/lib/oee/dagster_home \
    OEE_DATA_DIR=/var/lib/oee/data
USER oee
WORKDIR /var/lib/oee
# 3000 webserver, 4000 code server, 8000 API.
EXPOSE 3000 4000 8000
# The API by default; compose and the Helm values give each service its own command.
CMD ["oee", "api", "--host", "0.0.0.0", "--port", "8000"]
