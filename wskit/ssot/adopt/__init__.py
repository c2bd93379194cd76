"""Adoption on a codebase: the init proposal, its TOML section, the guard and its notebook."""
