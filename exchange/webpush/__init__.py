"""Web Push: a holder's wallet subscribes (RFC 8030 push, RFC 8291 message
encryption, RFC 8292 VAPID), and each use of the holder's data that the
polled use-notices feed tells them of is also pushed, encrypted end to end,
through the adapters' delivery outbox (docs/web.md "Use notices")."""
