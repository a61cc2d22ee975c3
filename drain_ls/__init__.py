"""drain-ls: spend spare LLM token budget on low-priority background work while the editor is idle."""

__version__ = "0.1.0"
