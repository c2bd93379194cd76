"""The checks and what they read: the configuration, import paths, role scan, call-site audit, import fix."""
