"""Department queries through the hub: policy, fetch, masking, the request hash."""
