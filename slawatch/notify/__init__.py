"""Notifications: what to announce (outbox rows), how to deliver it, and what it says.

    announce    turns ticket changes into outbox rows, inside the deciding transaction
    dispatcher  the delivery loop, assembled from the stages in `stages`
    stages      one delivery step each: order gate, rate limit, already-sent?, send, mark
    messages    Slack messages from sandboxed Jinja2 templates (pure)
    senders     Slack through slack-sdk, or the console
    ratelimit   a token bucket per channel (pure)
"""

__all__ = ["announce", "dispatcher", "messages", "ratelimit", "senders", "stages"]
