"""Plumbing every domain uses: running commands, redacting credentials, strict YAML."""
