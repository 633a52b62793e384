"""``kpoc demo``: the seed's system, alive, explained step by step."""

from __future__ import annotations

import os
from typing import Any

import click

from ..cluster import ADMIN_PROPERTIES, DEFAULT_PORT, LocalCluster
from ..config import DEFAULT_TOPIC, default_data_dir
from ..demo import run_demo
from ._common import client_options, config_from, out


@click.command()
@client_options
@click.option("-n", "--messages", type=int, default=12, show_default=True,
              envvar="KPOC_DEMO_MESSAGES", help="Messages to produce [env KPOC_DEMO_MESSAGES].")
@click.option("--consumers", type=int, default=4, show_default=True,
              help="Consumers in the group (the original Kafka com Go diagram has 4).")
@click.option("-t", "--topic", default=DEFAULT_TOPIC, show_default=True,
              help="Topic the demo creates (3 partitions) and uses.")
@click.option("-g", "--group", default="demo", show_default=True,
              help="Consumer group of the demo's consumers.")
@click.option("--keep-running", is_flag=True, help="Keep the consumers running until Ctrl-C.")
@click.option("--no-cluster", is_flag=True,
              help="Do not start the local cluster; use -b / KPOC_BOOTSTRAP_SERVERS as given.")
@click.option("--secure", is_flag=True, envvar="KPOC_SECURE",
              help="Create the local cluster secure (TLS, SCRAM, ACLs) and connect as its admin "
                   "[env KPOC_SECURE]; a cluster already secure is used that way anyway.")
def demo(messages: int, consumers: int, topic: str, group: str, keep_running: bool,
         no_cluster: bool, secure: bool, **conn: Any) -> None:
    """Kafka com Go's diagram, live: 3 brokers, topic teste, a producer, 4 consumers (one idle).

    Starts the local 3-node cluster unless one is given with -b, creates topic teste (3
    partitions, replication factor 3), starts a group of 4 consumers, produces messages with
    delivery reports, shows who got which partition, and the group's lag falling to zero.

    \b
    Example:
      kpoc demo
      kpoc demo --messages 100 --keep-running     # then try: kpoc produce hello
      kpoc demo --secure                          # same, over SASL_SSL (make demo KPOC_SECURE=1)
    """
    if not no_cluster and not conn.get("bootstrap_servers"):
        manager = LocalCluster(default_data_dir())
        out.print("Starting the local Kafka cluster (first time: downloads Kafka's jars)…")
        bootstrap, running = manager.up(port=int(os.environ.get("KPOC_PORT", DEFAULT_PORT)),
                                        secure=secure)
        out.print(f"{'Already running' if running else 'Started'}: {bootstrap}", markup=False)
        conn["bootstrap_servers"] = bootstrap
        st = manager.state()
        if st is not None and st.secure and not conn.get("config_file"):
            conn["config_file"] = str(manager.data_dir / ADMIN_PROPERTIES)
            out.print(f"Secure cluster: SASL_SSL as admin (-F {conn['config_file']})",
                      markup=False)
    config = config_from(conn)
    result = run_demo(config, lambda line: out.print(line, markup=False, highlight=False),
                      topic, group, consumers, messages, keep_running)
    out.print("")
    out.print(f"Done: {result.delivered} delivered, {result.failed} failed, idle: "
              f"{', '.join(result.idle) or 'none'}, final lag {result.final_lag}. Explore with "
              "`kpoc topics describe teste`, `kpoc groups describe demo`, `kpoc console`.",
              markup=False)
