"""The language server: a front end of the drain engine and of the analysis core, over LSP."""
