# One image for every role: `web` (default), `scheduler`, `worker`.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml ./
COPY app ./app
COPY config ./config
COPY detectors ./detectors
COPY remediations ./remediations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
# util-linux provides prlimit, which the remediation runner uses to apply resource limits.
# vigil-run is the user remediation scripts run as when the scheduler or worker can isolate
# them (run as root with CAP_SYS_ADMIN; see README "Remediations").
RUN apt-get update \
    && apt-get install -y --no-install-recommends util-linux=2.38.1-5+deb12u3 curl=7.88.1-10+deb12u14 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 vigil \
    && useradd --system --no-create-home --uid 10002 --shell /usr/sbin/nologin vigil-run
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /srv/vigil
COPY --chown=vigil:vigil wsgi.py ./
RUN mkdir -p /srv/vigil/var && chown vigil:vigil /srv/vigil/var && chmod 0700 /srv/vigil/var
USER 10001
ENV VIGIL_DATA_DIR=/srv/vigil/var \
    VIGIL_HOST=0.0.0.0 \
    VIGIL_PORT=8000 \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8000/api/v1/health"]
ENTRYPOINT ["vigil"]
CMD ["serve"]
