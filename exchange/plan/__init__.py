"""免证办 plans: how each material of a matter can be satisfied without paper."""
