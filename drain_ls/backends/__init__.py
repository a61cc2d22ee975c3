"""Where drains get their text written: the Anthropic API, or the free offline backend."""
