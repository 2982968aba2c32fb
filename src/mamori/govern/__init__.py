"""Governance: trust tiers per tenant and role, and the tamper-evident audit chain."""
