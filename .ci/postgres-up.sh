#!/usr/bin/env bash
# A real PostgreSQL on this machine (Debian's packages) for the cache.url tests: installs it if
# missing, starts the cluster, creates a superuser role for the current user and the database
# zcnas_test (override: ZCNAS_PG_DB). Idempotent. The tests then use ZCNAS_TEST_PG_URL, default
# postgresql:///zcnas_test (the local socket). Needs root for apt-get and for creating the role.
set -euo pipefail
DB=${ZCNAS_PG_DB:-zcnas_test}
ME=$(id -un)
fail() { echo "postgres-up: $*" >&2; exit 1; }
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
    || fail "apt-get install postgresql failed"
fi
command -v pg_lsclusters >/dev/null || fail "pg_lsclusters missing (Debian's postgresql-common)"
read -r VER CLUSTER _ STATUS _ < <(pg_lsclusters -h | head -1) || fail "no PostgreSQL cluster (pg_createcluster <ver> main)"
[ "$STATUS" = online ] || pg_ctlcluster "$VER" "$CLUSTER" start || fail "cannot start cluster $VER/$CLUSTER"
for _ in $(seq 30); do pg_isready -q && break; sleep 0.5; done
pg_isready -q || fail "server $VER/$CLUSTER not accepting connections"
as_pg() { if [ "$ME" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }
if [ "$(as_pg psql -tAc "SELECT 1 FROM pg_roles WHERE rolname='$ME'")" != 1 ]; then
  as_pg createuser -s "$ME" || fail "cannot create role $ME"
fi
if [ "$(psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'")" != 1 ]; then
  createdb "$DB" || fail "cannot create database $DB"
fi
psql -d "$DB" -tAc "SELECT 1" >/dev/null || fail "cannot connect to database $DB"
echo "postgres-up: PostgreSQL $VER/$CLUSTER up, database $DB for role $ME (postgresql:///$DB)"
