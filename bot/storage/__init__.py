"""Storage adapters: the SQLite query log, the review desk's state, and redaction before anything is written."""
