"""Persistence: the SQL schema, the engine, and every query and write slawatch makes."""
