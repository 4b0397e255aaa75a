"""Notifications: the outbox pipeline, its senders, and the Slack messages they post."""
