"""Anti-money-laundering on the transfer graph: typologies scored per account, live."""

from mamori.detect.aml.detector import AmlGraph

__all__ = ["AmlGraph"]
