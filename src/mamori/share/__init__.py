"""Sector exchange: STIX 2.1 export under a release policy, a TAXII 2.1 server and client,
and systemic early warning (sector campaigns seen at k or more institutions).

>>> from mamori.share.export import ReleasePolicy  # doctest: +SKIP
"""
