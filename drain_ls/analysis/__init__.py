"""Pure static analysis over tree-sitter trees: no LSP, no SDK, no I/O."""
