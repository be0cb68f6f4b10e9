"""授信 / credit analysis."""
