"""TF-Serving's ``--model_config_file``: which models, where, which versions, and their labels.

A ``ModelServerConfig`` in protobuf text format (tensorflow/serving
``config/model_server_config.proto``): ``model_config_list { config {
name base_path model_platform model_version_policy version_labels } }``.

- ``base_path``: used as is when it exists; a relative one is read from
  the config file's directory; an absolute one that does not exist here
  (``/models/<name>``, where the container mounts the tree) is looked up
  by its last component under the served path.
- ``model_version_policy`` (``file_system_storage_path_source.proto``):
  ``latest { num_versions }`` (default: the latest one), ``specific {
  versions }``, ``all {}``.
- ``version_labels``: label -> version, served at
  ``/v1/models/<name>/labels/<label>``; a label must name a version the
  policy serves.

A file that does not parse is refused as a whole, naming the file and the
line; a malformed entry fails that model alone, with the file and the
field, while the rest serve.
"""

import dataclasses
import os

from kerasexport.serving import textproto

PLATFORM = "tensorflow"


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One ``config`` entry.

    Attributes:
        name: the model's name.
        directory: where its version directories are (resolved).
        policy: ``("latest", n)``, ``("specific", (v, ...))`` or ``("all",)``.
        labels: {label: version}.
    """

    name: str
    directory: str
    policy: tuple
    labels: dict

    def serves(self, numbers):
        """The versions among `numbers` (present on disk) the policy serves."""
        numbers = sorted(numbers)
        if self.policy[0] == "all":
            return numbers
        if self.policy[0] == "specific":
            return [n for n in numbers if n in self.policy[1]]
        return numbers[-self.policy[1]:]


class ConfigError(ValueError):
    """A malformed model config file; the message names the file and the field."""


def read(path, served_root):
    """The entries of the model config file at `path`, in file order.

    Args:
        path: the ``models.config`` file.
        served_root: the path being served, where absolute base paths
            that do not exist are looked up by their last component.

    Returns:
        {name: `ModelEntry`, or the `ConfigError` of a malformed entry}.

    Raises:
        ConfigError: the file cannot be read or parsed, naming it and the field.
    """
    where = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            message = textproto.parse(f.read())
    except OSError as exc:
        raise ConfigError(f"Cannot read the model config file {where}: {exc.strerror}.") from None
    except (UnicodeDecodeError, textproto.ParseError) as exc:
        raise ConfigError(f"{where} is not a ModelServerConfig in text format: {exc}.") from None
    unknown = sorted(set(message) - {"model_config_list"})
    if unknown or not isinstance(textproto.one(message, "model_config_list"), dict):
        raise ConfigError(f"{where}: expected one field 'model_config_list' (a message), found "
                          f"{unknown or 'none'}.")
    entries = {}
    for index, entry in enumerate(textproto.one(message, "model_config_list").get("config", [])):
        name = textproto.one(entry, "name") if isinstance(entry, dict) else None
        key = name if isinstance(name, str) and name else f"config[{index}]"
        try:
            item = _entry(entry, f"{where}: model_config_list.config[{index}]", path, served_root)
            if key in entries:
                raise ConfigError(f"{where}: model_config_list.config[{index}].name {key!r} is "
                                  "already used by another entry.")
        except ConfigError as exc:
            entries[key] = exc  # this model's problem; the others serve
            continue
        entries[key] = item
    return entries


def discover(entries):
    """{model: {version: directory}} the entries' policies serve now (malformed entries: none)."""
    found = {}
    for name, entry in entries.items():
        if isinstance(entry, Exception):
            continue
        try:
            names = os.listdir(entry.directory)
        except OSError:
            names = []
        present = {int(n): os.path.join(entry.directory, n) for n in names
                   if n.isdigit() and int(n) > 0 and os.path.isdir(os.path.join(entry.directory, n))}
        found[name] = {n: present[n] for n in entry.serves(present)}
    return found


def label(entries, model, name):
    """The version `version_labels` gives label `name` of `model`.

    Raises:
        LookupError: unknown model or label, a malformed entry, or no config (`entries` is `None`).
    """
    entry = (entries or {}).get(model)
    if isinstance(entry, Exception):
        raise LookupError(f"Model {model!r} is not served: {entry}")
    labels = entry.labels if entry is not None else {}
    if name not in labels:
        raise LookupError(f"Model {model!r} has no version labelled {name!r}. Labels: "
                          f"{sorted(labels)} (set in the model config file's version_labels).")
    return labels[name]


def _entry(entry, where, path, served_root):
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a message.")
    name = textproto.one(entry, "name")
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigError(f"{where}.name must be a model name, received {name!r}.")
    where = f"{where} ({name})"
    base = textproto.one(entry, "base_path")
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{where}.base_path must be a directory, received {base!r}.")
    platform = textproto.one(entry, "model_platform", PLATFORM)
    if platform != PLATFORM:
        raise ConfigError(f"{where}.model_platform is {platform!r}; expected {PLATFORM!r}.")
    policy = _policy(textproto.one(entry, "model_version_policy"), where)
    labels = {}
    for item in entry.get("version_labels", []):
        label = textproto.one(item, "key") if isinstance(item, dict) else None
        number = textproto.one(item, "value") if isinstance(item, dict) else None
        if not isinstance(label, str) or not label or isinstance(number, bool) or \
                not isinstance(number, int) or number < 1:
            raise ConfigError(f"{where}.version_labels: each entry needs a key (a label) and a "
                              f"value (a version >= 1), received {label!r}: {number!r}.")
        if policy[0] == "specific" and number not in policy[1]:
            raise ConfigError(f"{where}.version_labels[{label}] names version {number}, which the "
                              f"specific version policy does not serve ({list(policy[1])}).")
        labels[label] = number
    return ModelEntry(name, _directory(base, path, served_root), policy, labels)


def _policy(value, where):
    if value is None:
        return ("latest", 1)
    kinds = [k for k in ("latest", "specific", "all") if k in (value if isinstance(value, dict) else {})]
    if len(kinds) != 1:
        raise ConfigError(f"{where}.model_version_policy must hold one of latest, specific or all, "
                          f"found {kinds or 'none'}.")
    body = textproto.one(value, kinds[0])
    if not isinstance(body, dict):
        raise ConfigError(f"{where}.model_version_policy.{kinds[0]} must be a message.")
    if kinds[0] == "all":
        return ("all",)
    if kinds[0] == "latest":
        n = textproto.one(body, "num_versions", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"{where}.model_version_policy.latest.num_versions must be a whole "
                              f"number >= 1, received {n!r}.")
        return ("latest", n)
    versions = body.get("versions", [])
    if not versions or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in versions):
        raise ConfigError(f"{where}.model_version_policy.specific.versions must list versions "
                          f">= 1, received {versions!r}.")
    return ("specific", tuple(sorted(set(versions))))


def _directory(base, path, served_root):
    if not os.path.isabs(base):
        return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), base))
    if os.path.isdir(base):
        return base
    return os.path.join(served_root, os.path.basename(base.rstrip("/")))
