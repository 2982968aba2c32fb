"""Response: the catalogue of actions, playbooks that chain them, four-eyes approval and the
connectors that carry approved actions out (dry-run unless a bank switches a connector on)."""
