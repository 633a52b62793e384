"""``kpoc bench``: kpoc's producer and consumer against kcat and Kafka's own Java tools."""

from .harness import DIFFERENCES, PRODUCER_PROPS, Settings, run
from .report import main_cpu_lines, markdown_table, summarise, table_rows, write_chart, write_json

__all__ = [
    "DIFFERENCES",
    "PRODUCER_PROPS",
    "Settings",
    "main_cpu_lines",
    "markdown_table",
    "run",
    "summarise",
    "table_rows",
    "write_chart",
    "write_json",
]
