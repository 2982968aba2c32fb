"""Evaluations and benchmarks that print JSON: the project is measured through them."""
