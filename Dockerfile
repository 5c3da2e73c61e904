# One image for every kanalpuls process: worker, connectors, store init.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY connectors/ connectors/
COPY pipeline/ pipeline/
COPY deploy/ deploy/
# Editable, so the DDL and mapping files under deploy/ stay beside the code that reads them.
RUN pip install --no-cache-dir -e . && useradd --uid 10001 --create-home kanalpuls
USER kanalpuls
ENV KANALPULS_LOG_FORMAT=json \
    KANALPULS_CONNECTORS__MAPPING_FILE=/app/deploy/mapping.yaml
ENTRYPOINT ["kanalpuls"]
CMD ["--help"]
