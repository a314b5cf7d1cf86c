"""Push subscriptions: departments subscribe to licence events of the types
they have a sharing agreement for; the hub delivers signed webhooks
(adapters.webhooks) fed by an outbox dispatcher over the licence history."""
