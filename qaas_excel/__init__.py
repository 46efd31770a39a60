"""qaas-excel: Excel add-in and headless batch tool for the QaaS charging-points service."""

__version__ = "0.1.0"
