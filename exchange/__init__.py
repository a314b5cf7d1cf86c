"""The exchange: sharing agreements, holder consent, supervision mandates,
queries, 免证办 plans, push subscriptions and the authorized-use log."""
