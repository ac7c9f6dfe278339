"""Every command in README.md and docs/*.md names only flags its CLI defines.

The commands are taken from fenced code blocks (each line, with ``\\`` continuations joined and
``&&`` / ``;`` / ``|`` chains split) and from inline code spans in the prose that start with a
command. A command is one of the console scripts of pyproject.toml's ``[project.scripts]``
(bare, or after ``.venv/bin/`` and ``NAME=value`` assignments), ``python train.py``,
``python export.py``, ``python -m rsn_tf.cli.<name>`` or ``python bench/<name>.py``. Each
``--flag`` is looked up in the ``FLAGS`` (an absl ``flags.FlagValues``) of the module the
command runs, imported but never run; absl's help flags and the ``--no<name>`` form of boolean
flags count as defined; a deprecated old name (``rsn_tf.cli.common.define_deprecated_alias``)
passes with a warning that names the new one. Values are not checked, so placeholders such as
``--model_dir=DIR`` are fine. A ``bench/`` script is checked only when importing it defines
``FLAGS``. Every undefined flag of every file is reported at once, as ``file:line``.

A second check: every relative link of those pages names an existing file, and its ``#anchor``
an existing heading.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import re
import shlex
import warnings
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent

# absl answers these itself (rsn_tf/cli/common.py's HELP_FLAGS, plus absl's file and undefok flags).
SPECIAL_FLAGS = frozenset({"help", "helpshort", "helpfull", "helpxml", "flagfile", "undefok"})
OPERATORS = frozenset({"&&", "||", ";", "|", "&", "(", ")"})
PYTHON = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SCRIPT_LIKE = re.compile(r"^rsn-[a-z][a-z-]*$")


@dataclasses.dataclass(frozen=True)
class Command:
    path: Path
    line: int  # 1-based line where the command starts
    text: str  # the command, continuations joined
    lines: tuple[str, ...]  # the physical lines it spans


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@functools.cache
def console_scripts() -> dict[str, str]:
    """Console script -> module, from pyproject.toml."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    return {name: target.split(":")[0] for name, target in scripts.items()}


def _is_command_start(text: str) -> bool:
    tokens = _tokens(text)
    return any(_target(segment) is not None for segment in _segments(tokens))


def extract_commands(path: Path) -> list[Command]:
    """The shell commands of one Markdown file: fenced blocks line by line, then inline spans."""
    raw = path.read_text(encoding="utf-8").splitlines()
    commands: list[Command] = []
    prose = list(raw)  # fenced lines blanked, so inline spans are searched in prose only
    in_fence = False
    fence = ""
    i = 0
    while i < len(raw):
        line = raw[i]
        stripped = line.strip()
        match = re.match(r"^(`{3,}|~{3,})", stripped)
        if not in_fence and match:
            in_fence, fence = True, match.group(1)
            prose[i] = ""
            i += 1
            continue
        if in_fence:
            prose[i] = ""
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                in_fence = False
                i += 1
                continue
            start = i
            text = line
            while text.endswith("\\") and i + 1 < len(raw):  # the shell drops backslash-newline
                i += 1
                prose[i] = ""
                text = text[:-1] + raw[i]
            text = re.sub(r"^\s*\$\s+", "", text)  # a "$ " prompt
            if _is_command_start(text):
                commands.append(Command(path, start + 1, text, tuple(raw[start : i + 1])))
            i += 1
            continue
        i += 1
    body = "\n".join(prose)
    for span in re.finditer(r"(?<!`)`([^`]+)`(?!`)", body):
        text = span.group(1).replace("\n", " ")
        if _is_command_start(text):
            first = body.count("\n", 0, span.start()) + 1
            last = body.count("\n", 0, span.end()) + 1
            commands.append(Command(path, first, text, tuple(raw[first - 1 : last])))
    return sorted(commands, key=lambda c: c.line)


def _tokens(text: str) -> list[str]:
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)
    except ValueError:  # unbalanced quotes in an excerpt: fall back to words
        return text.split("#")[0].split()


def _segments(tokens: list[str]) -> list[list[str]]:
    segments, current = [], []
    for token in tokens:
        if token in OPERATORS:
            segments.append(current)
            current = []
        else:
            current.append(token)
    segments.append(current)
    return [s for s in segments if s]


def _target(segment: list[str]) -> tuple[str, str | Path, list[str]] | None:
    """(program as written, module name or bench file, the arguments) or None if not ours."""
    words = list(segment)
    while words and ENV_ASSIGNMENT.match(words[0]):
        words.pop(0)
    if words and words[0] in ("env", "exec", "time"):
        words.pop(0)
    if not words:
        return None
    program = words[0].rsplit("/", 1)[-1]  # rsn-train, .venv/bin/rsn-train
    if program in console_scripts():
        return program, console_scripts()[program], words[1:]
    if SCRIPT_LIKE.match(program):
        return program, "", words[1:]  # an rsn-* command pyproject.toml does not define
    if PYTHON.match(words[0]) and len(words) > 1:
        if words[1] == "-m" and len(words) > 2 and re.match(r"^rsn_tf\.cli\.[a-z_]+$", words[2]):
            return f"python -m {words[2]}", words[2], words[3:]
        script = words[1]
        if script in ("train.py", "./train.py"):
            return "python train.py", "rsn_tf.cli.train", words[2:]
        if script in ("export.py", "./export.py"):
            return "python export.py", "rsn_tf.cli.export", words[2:]
        if re.match(r"^(\./)?bench/\w+\.py$", script):
            return f"python {script}", ROOT / script.removeprefix("./"), words[2:]
    return None


def _load_flags(module: str | Path):
    """The module's FLAGS, or None for a bench script that defines none (or cannot be imported)."""
    if isinstance(module, Path):
        if not module.exists():
            return None
        spec = importlib.util.spec_from_file_location(f"_docs_bench_{module.stem}", module)
        loaded = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(loaded)
        except Exception:  # noqa: BLE001 - a bench script with import-time needs is skipped
            return None
    else:
        loaded = importlib.import_module(module)
    return getattr(loaded, "FLAGS", None)


@functools.cache
def defined_flags(module: str | Path) -> frozenset[str] | None:
    flag_values = _load_flags(module)
    if flag_values is None:
        return None
    flags = flag_values._flags()  # name (and short name, and absl alias) -> Flag
    names = set(flags) | SPECIAL_FLAGS
    names |= {"no" + name for name, flag in flags.items() if flag.boolean}
    return frozenset(names)


@functools.cache
def deprecated_names(module: str | Path) -> dict[str, str]:
    """Old flag name -> new one, for the names ``rsn_tf.cli.common.define_deprecated_alias`` keeps."""
    flag_values = _load_flags(module)
    if flag_values is None:
        return {}
    from rsn_tf.cli import common

    aliases = dict(getattr(common, "_ALIASES", {}).get(id(flag_values), {}))
    flags = flag_values._flags()
    for old, new in list(aliases.items()):
        if new in flags and flags[new].boolean:
            aliases["no" + old] = "no" + new
    return aliases


def _flag_names(args: list[str]) -> list[str]:
    names = []
    for arg in args:
        arg = arg.lstrip("[(")
        if arg == "--":
            break  # absl: everything after is positional
        match = re.match(r"^--([A-Za-z_][\w-]*)", arg)
        if match:
            names.append(match.group(1))
    return names


def _line_of(command: Command, flag: str) -> int:
    pattern = re.compile(r"--" + re.escape(flag) + r"(?![\w-])")
    for offset, line in enumerate(command.lines):
        if pattern.search(line):
            return command.line + offset
    return command.line


def check(paths: list[Path]) -> list[str]:
    """One 'file:line: ...' message per undefined flag (or unknown command), for every file."""
    errors = []
    for path in paths:
        try:
            shown = path.relative_to(ROOT)
        except ValueError:
            shown = path
        for command in extract_commands(path):
            for segment in _segments(_tokens(command.text)):
                target = _target(segment)
                if target is None:
                    continue
                program, module, args = target
                if module == "":
                    errors.append(f"{shown}:{command.line}: {program}: no such console script in pyproject.toml")
                    continue
                known = defined_flags(module)
                if known is None:
                    continue  # a bench script without import-time FLAGS
                deprecated = deprecated_names(module)
                for flag in _flag_names(args):
                    where = f"{shown}:{_line_of(command, flag)}"
                    if flag in deprecated:  # still works: a warning, not a failure
                        new = deprecated[flag]
                        warnings.warn(f"{where}: {program} --{flag} is deprecated; use --{new}", stacklevel=2)
                    elif flag not in known:
                        errors.append(f"{where}: {program} has no flag --{flag}")
    return errors


def test_docs_name_only_defined_flags():
    errors = check(doc_files())
    assert not errors, "flags the docs name but the CLIs do not define:\n" + "\n".join(errors)


def test_the_readme_commands_are_found():
    commands = extract_commands(ROOT / "README.md")
    texts = [c.text for c in commands]
    assert any(".venv/bin/rsn-train --stage=joint" in t for t in texts), texts
    programs = {t[0] for c in commands for s in _segments(_tokens(c.text)) if (t := _target(s))}
    assert {"rsn-train", "rsn-evaluate", "rsn-predict", "rsn-export"} <= programs, programs


def test_a_made_up_flag_is_reported_with_file_and_line(tmp_path):
    doc = tmp_path / "page.md"
    doc.write_text(
        "# A page\n"
        "\n"
        "Run `rsn-evaluate --model=runs/rsn --no_such_flag=1` to see.\n"
        "\n"
        "```bash\n"
        "FOO=1 .venv/bin/rsn-train --stage=joint \\\n"
        "    --model_dir=DIR --epochz=3   # a typo\n"
        "python train.py --nodeterministic --helpfull && python export.py --bogus\n"
        "rsn-frobnicate --x\n"
        "```\n",
        encoding="utf-8",
    )
    errors = check([doc])
    assert errors == [
        f"{doc}:3: rsn-evaluate has no flag --no_such_flag",
        f"{doc}:7: rsn-train has no flag --epochz",
        f"{doc}:8: python export.py has no flag --bogus",
        f"{doc}:9: rsn-frobnicate: no such console script in pyproject.toml",
    ], errors


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors, seen, in_fence = set(), {}, False
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\s*(```|~~~)", line):
            in_fence = not in_fence
        elif not in_fence and (match := re.match(r"^#{1,6}\s+(.*)$", line)):
            slug = _slug(match.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def check_links(paths: list[Path]) -> list[str]:
    """One 'file:line: ...' message per relative link whose file or #anchor does not exist."""
    errors = []
    for path in paths:
        in_fence = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.match(r"^\s*(```|~~~)", line):
                in_fence = not in_fence
            if in_fence:
                continue
            for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`]*`", "", line)):
                if re.match(r"^[a-z]+:", target):
                    continue  # http:, https:, mailto:
                file_part, _, anchor = target.partition("#")
                linked = (path.parent / file_part).resolve() if file_part else path
                shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                if not linked.exists():
                    errors.append(f"{shown}:{number}: {target}: no such file")
                elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                    errors.append(f"{shown}:{number}: {target}: no heading #{anchor} in {linked.name}")
    return errors


def test_docs_links_resolve():
    errors = check_links(doc_files())
    assert not errors, "broken relative links:\n" + "\n".join(errors)


def test_a_deprecated_flag_name_passes_with_a_warning(tmp_path):
    old = next(iter(deprecated_names("rsn_tf.cli.train")), None)
    assert old is not None, "rsn-train keeps its renamed flags' old names as deprecated aliases"
    doc = tmp_path / "page.md"
    doc.write_text(f"Run `rsn-train --{old}=1`.\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=f"page.md:1: rsn-train --{old} is deprecated"):
        assert check([doc]) == []


def test_a_broken_link_is_reported_with_file_and_line(tmp_path):
    doc = tmp_path / "page.md"
    doc.write_text("# Top\n\nSee [here](#top), [there](#nowhere) and [a file](missing.md).\n", encoding="utf-8")
    assert check_links([doc]) == [
        f"{doc}:3: #nowhere: no heading #nowhere in page.md",
        f"{doc}:3: missing.md: no such file",
    ]
