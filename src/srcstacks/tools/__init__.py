"""Wrappers around the external tools srcstacks drives, one module per tool."""
