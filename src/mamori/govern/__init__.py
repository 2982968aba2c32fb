"""govern"""
