"""Reading a spec from a YAML file (located, safe: ``qac.spec.yamlfile``) or a mapping."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import Any

from qac.errors import SpecError
from qac.spec.model import Spec
from qac.spec.problems import Invalid, field_name, spec_error
from qac.spec.sizes import MAX_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES, TOP_KEYS
from qac.spec.values import check_keys
from qac.spec.yamlfile import YamlRules, read_located_yaml

YAML_RULES = YamlRules(
    error=SpecError, field_name=field_name, max_bytes=MAX_FILE_BYTES, max_nodes=MAX_YAML_NODES,
    max_depth=MAX_YAML_DEPTH,
    noun="file", directory="give the path of the spec's .yaml file",
    too_big="qac reads spec files up to {max_bytes} bytes, store large matrices in .npy files",
    too_many="the document has more than {max_nodes} values; store large matrices in .npy files",
    empty="write a mapping with at least Q, K and V",
    not_mapping="write top-level keys such as Q:, K: and V:",
    key_example="heads or Q",
    more_tags=("timestamp",),
)


def load_spec(source: Any, *, base_dir: str | os.PathLike | None = None) -> Spec:
    """Load and validate a spec from a YAML path, a mapping or a :class:`Spec` (returned as-is).

    ``.npy`` paths resolve against ``base_dir`` if given, else the YAML file's directory
    (file sources) or the current directory (mappings). Raises :class:`SpecError`.
    """
    if isinstance(source, Spec):
        return source
    if isinstance(source, Mapping):
        label, positions, data, path = "<spec>", None, dict(source), None
        base = pathlib.Path(base_dir) if base_dir is not None else pathlib.Path.cwd()
    elif isinstance(source, (str, os.PathLike)):
        label = os.fspath(source)
        path = pathlib.Path(label)
        data, positions = read_located_yaml(path, label, YAML_RULES)
        base = pathlib.Path(base_dir) if base_dir is not None else path.parent
    else:
        raise SpecError(f"<spec>: expected a YAML file path, a mapping or a Spec, got {type(source).__name__}; "
                        "pass e.g. load_spec('attention.yaml')")
    try:
        check_keys(data, TOP_KEYS)  # `path` is set by the loader, never by the user
    except Invalid as problem:
        raise spec_error(label, positions, problem) from None
    context = {"base_dir": base, "label": label, "positions": positions}
    return Spec.model_validate({**data, "path": path}, context=context)
