"""Policy packs: each region's rules as cited, versioned data (see schema.py)."""

from gongji.policy.loader import known_regions, load, load_file, load_region
from gongji.policy.schema import Pack, Version

__all__ = ["Pack", "Version", "known_regions", "load", "load_file", "load_region"]
