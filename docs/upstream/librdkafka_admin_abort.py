"""Minimal reproducer: librdkafka aborts (eonce->refcnt > 0) in coordinator-bound admin requests
when the group coordinator is killed. Usage: python repro.py BOOTSTRAP GROUP SECONDS
Describes GROUP and lists its offsets in a loop from 4 threads; run it while the group's
coordinator broker is SIGKILLed and restarted. Exit code -6 (SIGABRT) = reproduced."""
import sys, threading, time
from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka.admin import AdminClient

bootstrap, group, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
admin = AdminClient({"bootstrap.servers": bootstrap})
stop = time.monotonic() + seconds
calls = errors = 0

def loop():
    global calls, errors
    while time.monotonic() < stop:
        for fut in (list(admin.describe_consumer_groups([group], request_timeout=5).values())
                    + list(admin.list_consumer_group_offsets(
                        [ConsumerGroupTopicPartitions(group)], request_timeout=5).values())):
            try:
                fut.result(timeout=10)
            except Exception:
                errors += 1
            calls += 1

threads = [threading.Thread(target=loop) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(f"survived: {calls} calls, {errors} errors")
