"""Where drains get their text written: the Anthropic API (``anthropic``, with
``messages`` and ``batches``), the free offline backend (``offline``), and any
OpenAI-compatible server (``openai_compat``, with ``endpoints`` and ``answers``; not yet
selectable in the settings)."""
