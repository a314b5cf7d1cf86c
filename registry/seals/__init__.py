"""Seals over HTTP: register, rotate and publish a department's electronic seals."""
