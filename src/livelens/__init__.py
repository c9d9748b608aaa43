"""livelens: real-time contact analysis that speaks the Amazon Connect Contact Lens wire protocol."""

__version__ = "0.1.0"
