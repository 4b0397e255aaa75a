"""Persistence: the SQL schema, the engine, and every query and write slawatch makes.

    schema        tables and indexes (Alembic in migrations/ is how they change)
    engine        engines per backend, schema upgrades, the schema check of read-only commands
    alert_states  persisted pending/firing alerts (Prometheus' ALERTS_FOR_STATE)
    tickets       tickets (streamed and counted with filters), their series and timeline
    outbox        the notification outbox and Slack thread locations
"""

__all__ = ["alert_states", "dialect", "engine", "outbox", "schema", "tickets"]
