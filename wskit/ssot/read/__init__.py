"""Reading sources without importing them: finding files, the skim index, bindings, text search."""
