"""A small module with the kinds of findings drain-ls reports."""

import json
import os
import sys
from typing import Any, Optional


def load(path: str, default: Optional[dict] = None) -> dict:
    if not os.path.exists(path):
        return default or {}
    with open(path) as handle:
        return json.load(handle)


class Cache:
    def __init__(self, size: int = 128):
        self.size = size

    def get(self, key):
        for item in self.items():
            if item == key:
                yield item
