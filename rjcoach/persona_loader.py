"""Loading persona and scenario files: every problem reported at once, with file, field and line.

A malformed file never stops the others: ``load_folder`` returns the valid personas and scenarios
together with the errors for the rest.
"""
from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from rjcoach.persona_schema import GROUP, Persona, Scenario

REPO_ROOT = Path(__file__).resolve().parent.parent
PERSONA_DIR = REPO_ROOT / "personas"
MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 12


@dataclass(frozen=True)
class FileError:
    file: str
    field: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


@dataclass
class Library:
    """What a folder holds: valid personas and scenarios by id, and every error found."""

    personas: dict[str, Persona] = field(default_factory=dict)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    errors: list[FileError] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # id -> file

    def check_pair(self, scenario_id: str, persona_id: str) -> Scenario:
        """The scenario, if it is loaded and ``persona_id`` is a loaded person on its roster; KeyError otherwise."""
        scenario = self.scenarios.get(scenario_id)
        if scenario is None:
            raise KeyError(f"scenario {scenario_id!r} is not available")
        if scenario.is_group or persona_id == GROUP:
            if not (scenario.is_group and persona_id == GROUP):
                raise KeyError(f"scenario {scenario_id!r} is a {scenario.format}: "
                               + ("the trainee facilitates the whole group" if scenario.is_group
                                  else "it has no group to facilitate"))
            missing = [r.persona for r in scenario.roster if r.persona not in self.personas]
            if missing:
                raise KeyError(f"scenario {scenario_id!r}: persona(s) not available: {', '.join(missing)}")
            return scenario
        if persona_id not in {r.persona for r in scenario.roster} or persona_id not in self.personas:
            raise KeyError(f"persona {persona_id!r} is not in scenario {scenario_id!r}")
        return scenario

    def personas_for(self, scenario_id: str) -> list[Persona]:
        sc = self.scenarios[scenario_id]
        return [self.personas[r.persona] for r in sc.roster if r.persona in self.personas]


def _keys(node: yaml.MappingNode, cache: dict) -> dict:
    """A mapping node's scalar keys -> (key node, value node), first occurrence kept; built once per node."""
    index = cache.get(id(node))
    if index is None:
        index = {}
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                index.setdefault(k.value, (k, v))
        cache[id(node)] = index
    return index


def _line_of(node, loc: tuple, cache: dict | None = None) -> int | None:
    """Line (1-based) of the YAML node at a pydantic error location, or the nearest parent.

    Pass the same ``cache`` for every error of one file: a file with thousands of errors in a
    mapping with thousands of keys must not cost errors x keys.
    """
    cache = {} if cache is None else cache
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            hit = _keys(node, cache).get(key) if isinstance(key, str) else None
            if hit is None:
                break
            line = hit[0].start_mark.line + 1
            node = hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _check_structure(path: Path, text: str) -> list[FileError]:
    """Refuse aliases (YAML bombs) and absurd nesting before anything is built."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                return [FileError(str(path), "", event.start_mark.line + 1,
                                  "YAML aliases (*name) are not allowed in persona files")]
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    return [FileError(str(path), "", event.start_mark.line + 1,
                                      f"nested deeper than {MAX_DEPTH} levels")]
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [FileError(str(path), "", mark.line + 1 if mark else None, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    return []


def load_file(path: Path, root: Path | None = None) -> tuple[Persona | Scenario | None, list[FileError]]:
    """Parse and validate one file. Returns (model or None, errors)."""
    name = str(path)
    if root is not None:
        try:
            path.resolve().relative_to(root.resolve())
        except ValueError:
            return None, [FileError(name, "", None, f"is outside the persona folder {root}")]
    try:
        st = path.stat()
    except OSError as exc:
        return None, [FileError(name, "", None, f"cannot be read: {exc.strerror}")]
    if not stat.S_ISREG(st.st_mode):  # a directory, FIFO or device named *.yml: never opened
        return None, [FileError(name, "", None, "is not a regular file")]
    if st.st_size > MAX_FILE_BYTES:
        return None, [FileError(name, "", None, f"is {st.st_size} bytes; the limit is {MAX_FILE_BYTES}")]
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)  # the file may have grown since stat()
    except OSError as exc:
        return None, [FileError(name, "", None, f"cannot be read: {exc.strerror}")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [FileError(name, "", None, f"is over {MAX_FILE_BYTES} bytes; the limit is {MAX_FILE_BYTES}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, [FileError(name, "", None, "is not UTF-8 text")]
    problems = _check_structure(path, text)
    if problems:
        return None, problems
    # Compose once and build the data from that node. Both steps can still fail on a file the
    # parser accepted: a second document, a duplicate anchor, an unhashable key, a bad merge, or a
    # scalar its (explicit or implicit) tag cannot build (`!!int x`, `2001-13-45`, `!!python/...`);
    # PyYAML raises plain ValueError/TypeError/KeyError/AttributeError for some of these.
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        return None, [FileError(name, "", mark.line + 1 if mark else None,
                                f"not valid YAML: {getattr(exc, 'problem', None) or exc}")]
    except Exception as exc:  # noqa: BLE001 - a constructor's own error on hostile input
        return None, [FileError(name, "", None, f"not valid YAML: a value cannot be read ({type(exc).__name__}: {exc})")]
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return None, [FileError(name, "", 1, "must be a mapping with schema_version and kind")]
    kind = data.get("kind")
    model = {"persona": Persona, "scenario": Scenario}.get(kind) if isinstance(kind, str) else None
    if model is None:
        return None, [FileError(name, "kind", _line_of(node, ("kind",)) or 1,
                                f"must be 'persona' or 'scenario', got {kind!r}"[:300])]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        errors = []
        cache: dict = {}
        for err in exc.errors():
            loc = tuple(err["loc"])
            # Drop pydantic's union-branch markers ("str", "Reply") from the path.
            loc = tuple(p for p in loc if p not in ("str", "Reply"))
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            errors.append(FileError(name, ".".join(str(p) for p in loc), _line_of(node, loc, cache), msg))
        return None, errors


def load_folder(folder: Path = PERSONA_DIR, paths: list[Path] | None = None) -> Library:
    """Load every ``*.yml``/``*.yaml`` in ``folder`` (or the given paths); keep the valid ones."""
    lib = Library()
    folder = folder.resolve()
    files = [Path(p).resolve() for p in paths] if paths is not None else sorted(folder.glob("*.y*ml"))
    for path in files:
        model, errors = load_file(Path(path), folder)
        lib.errors += errors
        if model is None:
            continue
        table = lib.personas if isinstance(model, Persona) else lib.scenarios
        if model.id in lib.personas or model.id in lib.scenarios:
            lib.errors.append(FileError(str(path), "id", _id_line(path), f"id {model.id!r} is already used by {lib.files[model.id]}"))
            continue
        table[model.id] = model  # type: ignore[index]
        lib.files[model.id] = Path(path)
    # Cross-file references.
    for sid, sc in list(lib.scenarios.items()):
        bad = [r.persona for r in sc.roster if r.persona not in lib.personas]
        if bad:
            lib.errors.append(FileError(str(lib.files[sid]), "roster", _id_line(lib.files[sid], "roster"),
                                        f"names persona(s) that do not exist: {', '.join(bad)}"))
            del lib.scenarios[sid]
            continue
        for r in sc.roster:
            p = lib.personas[r.persona]
            if p.role != r.role:
                lib.errors.append(FileError(str(lib.files[sid]), "roster", _id_line(lib.files[sid], "roster"),
                                            f"gives {r.persona} the role {r.role!r}, but the persona's file says {p.role!r}"))
        goal_disclosures = [g.disclosure for g in sc.goals if g.disclosure]
        known = {d.id for p in lib.personas_for(sid) for d in p.disclosures}
        for d in goal_disclosures:
            if d not in known:
                lib.errors.append(FileError(str(lib.files[sid]), "goals", _id_line(lib.files[sid], "goals"),
                                            f"goal refers to disclosure {d!r}, which no persona on the roster has"))
    for pid, p in list(lib.personas.items()):
        if p.scenario not in lib.scenarios and not any(
            err.file == str(lib.files.get(p.scenario, "")) for err in lib.errors
        ):
            lib.errors.append(FileError(str(lib.files[pid]), "scenario", _id_line(lib.files[pid], "scenario"),
                                        f"scenario {p.scenario!r} does not exist"))
    return lib


def _id_line(path: Path, key: str = "id") -> int | None:
    try:
        for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            if line.startswith(f"{key}:"):
                return i
    except OSError:
        return None
    return None
