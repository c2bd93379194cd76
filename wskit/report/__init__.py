"""The notebook runner and the HTML report built from executed notebooks."""
