"""Thin console entry points; each reads arguments and calls the library."""
