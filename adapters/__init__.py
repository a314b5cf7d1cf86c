"""adapters: connectors to departments' own systems (HTTP and SQL sources),
webhook delivery, other registries' published documents, and data return
(数据回流) deliveries. Builds on catalog only."""
