"""The AI analyst under governance: one gateway in front of every provider (the offline
analyst, any OpenAI-compatible endpoint, an optional local llama.cpp model), with trust-tier
policy, redaction, fenced untrusted text, grounded answers and an audit record of everything.
"""
