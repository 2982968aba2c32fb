"""Mamori (守り): self-hosted cyber-defence and fraud early warning for banks."""

__version__ = "0.1.0"
