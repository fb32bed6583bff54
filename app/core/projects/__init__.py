"""Core: projects: the file format, lock, autosave, recent list and backups, atomic writes."""
