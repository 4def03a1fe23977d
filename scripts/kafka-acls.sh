#!/usr/bin/env bash
# Applies the Kafka ACLs a hotlist-matcher deployment should have, with
# Kafka's own AclCommand (org.apache.kafka.tools.AclCommand, from the jars
# scripts/broker.sh installs from Maven Central). The brokers must run an
# authorizer (StandardAuthorizer in KRaft) with
# allow.everyone.if.no.acl.found=false, so whatever is not granted here is
# denied: nobody may delete audit records, and nobody but the service may
# write principals, the audit log or alerts.
#
# Usage: scripts/kafka-acls.sh [--dry-run] --bootstrap HOST:PORT [--command-config FILE]
#   --dry-run          print the AclCommand arguments, one grant a line; change nothing
#   --command-config   client properties for an admin principal (TLS, SASL)
#
# Environment (defaults in brackets):
#   HM_SERVICE_PRINCIPAL  the service's instances and CLI [User:hotlist-matcher]
#   HM_CAMERAS_PRINCIPAL  the camera gateway, which only writes reads [User:alpr-cameras]
#   HM_CAD_PRINCIPAL      CAD, which only reads alerts [User:cad]
#   HM_OPS_PRINCIPAL      who runs `hotlist-matcher topics` [User:hotlist-ops]
#   HM_TOPIC_PREFIX       the topics' common prefix [alpr.]
#   HM_GROUP_ID           kafka.group_id of the config [hotlist-matcher]
#   HM_CAD_GROUP          CAD's consumer group [cad]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

dry_run=0 bootstrap="" command_config=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1; shift ;;
    --bootstrap) bootstrap=$2; shift 2 ;;
    --command-config) command_config=$2; shift 2 ;;
    *) echo "kafka-acls: unknown argument $1" >&2; exit 64 ;;
  esac
done
[ -n "$bootstrap" ] || { echo "kafka-acls: --bootstrap HOST:PORT is required" >&2; exit 64; }

service=${HM_SERVICE_PRINCIPAL:-User:hotlist-matcher}
cameras=${HM_CAMERAS_PRINCIPAL:-User:alpr-cameras}
cad=${HM_CAD_PRINCIPAL:-User:cad}
ops=${HM_OPS_PRINCIPAL:-User:hotlist-ops}
p=${HM_TOPIC_PREFIX:-alpr.}
group=${HM_GROUP_ID:-hotlist-matcher}
cad_group=${HM_CAD_GROUP:-cad}

grants=(
  # Cameras write reads and nothing else.
  "--allow-principal $cameras --operation Write --operation Describe --topic ${p}reads"
  # A camera gateway that seals reads (README, "Encryption at rest") takes
  # the day's key from the day-key topic, or adds one at midnight.
  "--allow-principal $cameras --operation Read --operation Write --operation Describe --topic ${p}day-keys"
  # The service reads reads, and reads and writes its own topics.
  "--allow-principal $service --operation Read --operation Describe --operation DescribeConfigs --topic ${p}reads"
)
for topic in alerts reads.dlq alert-state webhooks.dlq hotlist principals audit-events audit day-keys; do
  grants+=("--allow-principal $service --operation Read --operation Write --operation Describe --operation DescribeConfigs --topic ${p}${topic}")
done
grants+=(
  # Its consumer groups: the matchers' group, its readers and the audit sealer.
  "--allow-principal $service --operation Read --operation Describe --group $group --resource-pattern-type prefixed"
  "--allow-principal $service --operation Read --operation Describe --group ${p}audit-events-sealer"
  # The one transactional id of the audit sealers.
  "--allow-principal $service --operation Write --operation Describe --transactional-id ${p}audit-sealer"
  # Hotlist uploads: one transactional id per list (<hotlist topic>-upload-<list>),
  # so two uploads of one list fence each other.
  "--allow-principal $service --operation Write --operation Describe --transactional-id ${p}hotlist-upload- --resource-pattern-type prefixed"
  # CAD reads alerts in its own group.
  "--allow-principal $cad --operation Read --operation Describe --topic ${p}alerts"
  # Alerts are sealed: CAD opens them with the day keys and the master key.
  "--allow-principal $cad --operation Read --operation Describe --topic ${p}day-keys"
  "--allow-principal $cad --operation Read --group $cad_group"
  # Ops create the topics and check their settings; they read and write no records.
  "--allow-principal $ops --operation Create --operation DescribeConfigs --operation AlterConfigs --operation Describe --topic $p --resource-pattern-type prefixed"
)

for grant in "${grants[@]}"; do
  # shellcheck disable=SC2086
  set -- --bootstrap-server "$bootstrap" ${command_config:+--command-config "$command_config"} --add --force $grant
  if [ "$dry_run" = 1 ]; then
    echo "$grant"
  else
    "$here/scripts/broker.sh" run org.apache.kafka.tools.AclCommand "$@"
  fi
done
