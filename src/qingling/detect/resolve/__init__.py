"""Subscriber resolution: (IP[, port], time) → the account that held it, with the record
behind the answer, or an explicit ambiguity. Engine-neutral (Ibis): DuckDB by default,
Spark at scale. No Django: the web side imports results, never the reverse."""
