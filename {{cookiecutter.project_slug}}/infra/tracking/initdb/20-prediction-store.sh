#!/bin/sh
# The prediction store's own login (first start only, as every initdb script): it may connect to
# the MLflow database and owns the schema `mlops`, where the store keeps its tables, and nothing
# else: MLflow's tables stay out of its reach. The scoring servers, batch scoring, monitor and
# drift use postgresql://$PREDICTION_STORE_USER:<password>@<host>:5432/$POSTGRES_DB (README.md).
set -eu
user=${PREDICTION_STORE_USER:-mlops_store}
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v store_user="$user" -v store_password="$PREDICTION_STORE_PASSWORD" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"store_user" LOGIN PASSWORD :'store_password';
GRANT CONNECT ON DATABASE :"db" TO :"store_user";
CREATE SCHEMA IF NOT EXISTS mlops AUTHORIZATION :"store_user";
SQL
