"""Where state lives: the declarative base every package's tables extend,
the cache (Redis or in-process), the request's database session, and the
statements run on a driver's own connection. A bottom package: it imports
nothing of ours."""
