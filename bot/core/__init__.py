"""The pure core: message text -> Answer. Knows nothing of Slack, SQLite or the network."""
