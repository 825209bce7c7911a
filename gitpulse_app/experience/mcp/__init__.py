"""The MCP adapter (docs/API.md)."""
