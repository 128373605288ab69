"""GitHub: the REST client, step outputs and summaries, and the Markdown reports."""
