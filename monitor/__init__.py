"""espwatch: serial monitor, log scanner and crash decoder for Espressif chips."""

__version__ = "0.1.0"
