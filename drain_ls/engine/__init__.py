"""The drain engine: what the language server and ``drain-ls run`` share (no LSP here)."""
