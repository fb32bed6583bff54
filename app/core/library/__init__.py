"""Core: the model library: catalog, GGUF reader, installed models, downloads, the demo model."""
