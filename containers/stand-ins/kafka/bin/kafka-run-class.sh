#!/bin/bash
# Runs a class of Kafka's jars like the real distribution's script: KAFKA_HEAP_OPTS if set, else
# -Xmx256m (so a health check in a broker container gets the broker's heap settings, as there).
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} ${KAFKA_OPTS:-} \
  -Dlog4j2.configurationFile=/etc/kafka/docker/tools-log4j2.properties \
  -cp '/opt/kafka/libs/*' "$@"
