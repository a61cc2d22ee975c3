"""LSP features as plain functions of documents and findings: no server in sight."""
