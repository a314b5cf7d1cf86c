"""Sharing agreements (共享申请) between consumer and provider departments."""

from exchange.agreements.service import has_active_agreement

__all__ = ["has_active_agreement"]
