"""The analyzer's reports as data with their renderers (text, JSON, Markdown, DataFrame, plot, HTML)."""
