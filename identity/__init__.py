"""Who is calling, and how much they may: department systems' API clients
(secrets, private_key_jwt keys), their access tokens and the revocation of
those tokens, holders' sign-in (OpenID Connect) and session tokens, the
FastAPI dependencies that authenticate a request, and per-department rate
limits. A bottom package: it imports nothing of ours but storage."""
