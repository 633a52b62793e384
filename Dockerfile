# kpoc in a container: `docker build -t kpoc .` then `docker run --rm kpoc --help`.
# Stage 1 builds the wheel; stage 2 installs only the wheel and its dependencies (confluent-kafka's
# wheels bundle librdkafka, so the final image needs no compiler) and runs as a non-root user.
# PYTHON_IMAGE names the base image of both stages (the container test passes a stand-in).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.2.2.post1
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --wheel --outdir /dist

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /dist/ /tmp/dist/
# The wheel with its [console] extra: the library, the kpoc command and the web console
# (DL3013 asks for a pinned version: this is the wheel stage 1 just built).
# hadolint ignore=DL3013
RUN set -- /tmp/dist/*.whl && pip install --no-cache-dir "$1[console]" \
    && rm -rf /tmp/dist \
    && groupadd --system --gid 10001 kpoc \
    && useradd --system --uid 10001 --gid kpoc --create-home --home-dir /home/kpoc kpoc
USER 10001:10001
WORKDIR /home/kpoc
EXPOSE 8080
# Healthy = the brokers answer and every address they advertise is reachable from this
# container (the classic Docker/Kafka failure). The console service overrides this with an HTTP probe.
HEALTHCHECK --interval=30s --timeout=20s --start-period=20s --retries=3 \
    CMD ["kpoc", "doctor", "--no-topic", "--timeout", "10"]
ENTRYPOINT ["kpoc"]
CMD ["--help"]
