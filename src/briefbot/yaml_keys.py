"""YAML read with PyYAML's safe loader, except that a key written twice is an error.

PyYAML keeps the last of two equal keys in one mapping and says nothing, so a second
`telegram:` section in config.yaml, or a second `title:` in an article's front matter, silently
wins over the first. `load_yaml` raises DuplicateKey instead; callers say what it means there.
"""

from __future__ import annotations

from collections.abc import Hashable

import yaml


class DuplicateKey(Exception):
    """A mapping key written twice in one YAML mapping.

    `key` is the key; `line` the second one's line and `first` the first one's (1-based, in
    the text given to `load_yaml`); `section` whether the second one's value is a mapping.
    """

    def __init__(self, key: object, line: int, first: int, section: bool) -> None:
        self.key, self.line, self.first, self.section = key, line, first, section
        fix = (f"merge them into one '{key}:' section" if section
               else "delete the one you do not mean")
        super().__init__(f"{key!r} is written twice (first at line {first}); YAML would keep "
                         f"only the last and ignore the first unseen, so {fix}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that raises DuplicateKey instead of letting a later key win silently."""


def _unique_key_mapping(
    loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[object, object]:
    first_line: dict[object, int] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            continue  # construct_mapping names that fault
        line = key_node.start_mark.line + 1
        if key in first_line:
            raise DuplicateKey(key, line, first_line[key], isinstance(value_node, yaml.MappingNode))
        first_line[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _unique_key_mapping)


def load_yaml(text: str) -> object:
    """yaml.safe_load, except that a key written twice in one mapping raises DuplicateKey
    (naming the key and both lines) rather than silently keeping the last. Other faults raise
    yaml.YAMLError (and RecursionError, ValueError) as safe_load does."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
