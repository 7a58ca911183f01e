"""The results document and the templates that render it."""
