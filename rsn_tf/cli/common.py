"""What every RSN-TF command line shares: absl flags in a private registry, help, and errors.

Each CLI keeps its flags in its own ``flags.FlagValues``, not absl's global ``FLAGS``, so
that several CLIs can be imported (and run) in one process, as the tests do, without
duplicate-flag errors or values leaking from one call to the next. ``run`` parses,
answers ``--help`` / ``--helpfull``, prints a one-line error naming the flag and exits 2
on a bad flag, and resets the registry afterwards.

Flags are generated from dataclasses, each flag named as its field: the trainer's and the
ablation's from the experiment config (``rsn_tf/config.py``), rsn-evaluate's from the data
config, ``rsn_tf.metrics.MetricConfig`` and its own options. A flag's earlier name still works
as a deprecated alias: ``run`` rewrites it to the new name and says so on stderr.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from absl import flags

from rsn_tf import config as config_lib
from rsn_tf.errors import UserError

__all__ = [
    "CliError",
    "new_flag_values",
    "run",
    "console_entry",
    "exit_process",
    "define_config_flags",
    "config_from_flags",
    "define_dataclass_flags",
    "dataclass_from_flags",
    "define_deprecated_alias",
    "define_calibration_flags",
    "calibration_options",
]

HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull")


class CliError(UserError, ValueError):
    """A bad argument; ``run`` prints the message (which names the flag) and exits 2."""


def new_flag_values() -> flags.FlagValues:
    return flags.FlagValues()


# Per flag registry (by id: FlagValues refuses unknown attributes): deprecated name -> new name.
_ALIASES: dict[int, dict[str, str]] = {}


def define_deprecated_alias(flag_values: flags.FlagValues, old: str, new: str) -> None:
    """Accept ``--old`` as ``--new`` (``run`` warns on stderr and names ``--new``)."""
    _ALIASES.setdefault(id(flag_values), {})[old] = new


def _rewrite_aliases(args: list[str], flag_values: flags.FlagValues, program: str) -> list[str]:
    """``args`` with every deprecated flag name replaced by the new one, each warned about once."""
    aliases = _ALIASES.get(id(flag_values), {})
    out, warned = [], set()
    for i, arg in enumerate(args):
        if arg == "--":
            out.extend(args[i:])
            break
        dashes = "--" if arg.startswith("--") else "-" if arg.startswith("-") else ""
        name, sep, value = arg[len(dashes) :].partition("=")
        negated = name.startswith("no") and name[2:] in aliases and name not in aliases
        old = name[2:] if negated else name
        if dashes and old in aliases:
            new = aliases[old]
            if old not in warned:
                print(f"{program}: --{old} is deprecated; use --{new}", file=sys.stderr)
                warned.add(old)
            arg = f"{dashes}{'no' if negated else ''}{new}{sep}{value}"
        out.append(arg)
    return out


def run(
    main: Callable[[list[str]], int],
    flag_values: flags.FlagValues,
    doc: str,
    argv: Sequence[str] | None = None,
    program: str | None = None,
    errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) into ``flag_values`` and call ``main(positionals)``.

    Exceptions of the ``errors`` types (and every ``UserError`` and ``ConfigError``) become ``<program>: <message>`` on
    stderr and exit code 2, with no traceback: they are problems the user can fix.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    program = program or os.path.basename(sys.argv[0]) or "rsn"
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in HELP_FLAGS for a in args):
        print(doc.strip() + "\n\nFlags:\n" + flag_values.get_help(include_special_flags=False))
        return 0
    args = _rewrite_aliases(args, flag_values, program)
    try:
        positionals = flag_values([program, *args])[1:]
    except flags.Error as error:
        print(f"{program}: {error}\nRun '{program} --help' for every flag.", file=sys.stderr)
        return 2
    quiet_start()
    try:
        return main(positionals)
    except (UserError, config_lib.ConfigError, *errors) as error:
        print(f"{program}: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 2)  # e.g. 42: preempted, the checkpoint is saved
    finally:
        flag_values.unparse_flags()


def exit_process(code: int) -> typing.NoReturn:
    """End this command's process with ``code``, skipping the interpreter's teardown.

    Tearing TensorFlow's objects down at exit took 1.4-2.5 s of every rsn-train process (measured)
    and writes nothing: each command closes what it writes (the trainer its TensorBoard writers). So
    the standard streams are flushed and the atexit handlers run (logging's flush among them), as at
    a normal exit, and then the process ends at once.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing left to save
            pass
    atexit._run_exitfuncs()
    os._exit(code)


def console_entry(main: Callable[[], int]) -> Callable[[], typing.NoReturn]:
    """The console script of a CLI's ``main``: run it on this process's command line, then ``exit_process``.

    ``main`` itself returns its exit code, so that tests and other Python code can call it in-process.
    """

    def console() -> typing.NoReturn:
        exit_process(main())

    console.__doc__ = f"Run {main.__module__} as this process's command and end the process."
    return console


# TensorFlow's and TFDS's start-up notices that are not the user's business: printed on every start
# whatever TF_CPP_MIN_LOG_LEVEL says (they come before absl's log is initialised), or deprecation
# notices about TFDS's own code. TF_CPP_MIN_LOG_LEVEL=0 shows them all.
_START_UP_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine",
    "failed call to cuInit",
    "Unable to register cu",  # cuDNN / cuFFT / cuBLAS factories on a CPU-only machine
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
)
_TFDS_NOISE = ("`FeatureConnector.dtype` is deprecated", "has no dataset_info.json")
_quiet_done = False


class _DropTfdsNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in _TFDS_NOISE)


def quiet_start() -> None:
    """Import TensorFlow with its start-up notices filtered, and drop TFDS's internal deprecation
    warnings, so a command's first lines are the project's own. Other lines still show."""
    global _quiet_done
    if _quiet_done or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") == "0":
        return
    _quiet_done = True
    logging.getLogger("absl").addFilter(_DropTfdsNoise())
    if "tensorflow" in sys.modules:
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # CUDA's probe prints here, not in the middle of a run
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        for line in captured.read().decode(errors="replace").splitlines():
            if line.strip() and not any(noise in line for noise in _START_UP_NOISE):
                print(line, file=sys.stderr)


CONFIG_MODULE = "experiment config (rsn_tf/config.py)"


def _define_one(
    flag_values: flags.FlagValues,
    name: str,
    hint: Any,
    default: Any,
    help_text: str,
    module_name: str = CONFIG_MODULE,
    choices: Sequence[str] | None = None,
) -> None:
    """One flag of the type ``hint`` says: Literal (or ``choices``) an enum, a tuple or list a multi-string."""
    f = dict(flag_values=flag_values, module_name=module_name)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    if optional:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is Literal or choices:
        flags.DEFINE_enum(name, default, list(choices or typing.get_args(hint)), help_text, **f)
    elif typing.get_origin(hint) in (tuple, list):
        flags.DEFINE_multi_string(name, list(default or ()), help_text, **f)
    elif hint is bool:
        flags.DEFINE_boolean(name, default, help_text, **f)
    elif hint is int:
        flags.DEFINE_integer(name, default, help_text, **f)
    elif hint is float:
        flags.DEFINE_float(name, default, help_text, **f)
    else:
        flags.DEFINE_string(name, default, help_text, **f)


def _alias_note(old: Sequence[str]) -> str:
    return f" (Deprecated name{'s' if len(old) > 1 else ''}: {', '.join('--' + o for o in old)}.)" if old else ""


def define_config_flags(
    flag_values: flags.FlagValues,
    only: Sequence[str] | None = None,
    rename: dict[str, str] | None = None,
    purpose: Literal["train", "ablation"] = "train",
    config_flag: bool = True,
) -> dict[str, str]:
    """Define one flag per config field (or the fields in ``only``, by config key), plus ``--config``.

    Each flag is named as its field (``rename`` maps a key to another name, e.g. the ablation's
    ``--out``); the field's earlier flag names become deprecated aliases. Returns ``flag name ->
    config key``. A flag's shown default is the dataclass default; a preset-dependent one says
    so. Only flags given on the command line override a ``--config`` file (``config_from_flags``).
    """
    rename = rename or {}
    hints = config_lib.leaf_types()
    per_preset = {k for p in config_lib.PRESET_DEFAULTS for k in config_lib.preset_defaults(p, purpose)}
    tuned = {p: config_lib.fine_tuning_defaults(p) for p in config_lib.PRESET_DEFAULTS} if purpose == "train" else {}
    mapping = {}
    for key, field in config_lib.config_fields().items():
        if only is not None and key not in only:
            continue
        name = rename.get(key, field.name)
        old = field.metadata["deprecated_flags"]
        help_text = field.metadata["help"] + _alias_note(old)
        default = field.default
        if key in per_preset:
            values = ", ".join(
                f"{p}: {config_lib.preset_defaults(p, purpose)[key]}" for p in config_lib.PRESET_DEFAULTS
            )
            help_text += f" Default per --preset ({values})."
            default = None
        if any(key in t for t in tuned.values()):
            values = ", ".join(f"{p}: {t[key]}" for p, t in tuned.items() if key in t)
            help_text += f" With --init_from ({values}; the other presets keep theirs)."
        _define_one(flag_values, name, hints[key], default, help_text)
        for alias in old:
            define_deprecated_alias(flag_values, alias, name)
        mapping[name] = key
    if not config_flag:
        return mapping
    flags.DEFINE_string(
        "config",
        None,
        "A YAML or JSON experiment config (sections task, data, model, optimizer, trainer, runtime), e.g. a "
        "run's own config.yaml to replay it. Flags given on the command line override it.",
        flag_values=flag_values,
        module_name=CONFIG_MODULE,
    )
    return mapping


def config_from_flags(
    flag_values: flags.FlagValues,
    mapping: dict[str, str],
    purpose: Literal["train", "ablation"] = "train",
    defaults: dict[str, Any] | None = None,
) -> config_lib.ExperimentConfig:
    """The resolved config: defaults < preset < ``defaults`` < --config file < flags given.

    ``defaults`` (dotted keys) are a CLI's own defaults, e.g. the ablation's run dir.
    """
    file_data = config_lib.load_file(flag_values["config"].value) if flag_values["config"].value else {}
    given = {key: flag_values[name].value for name, key in mapping.items() if flag_values[name].present}
    base = dict(defaults or {})
    flat_file = config_lib.flatten(file_data)
    base = {k: v for k, v in base.items() if k not in flat_file}
    return config_lib.resolve(file_data, {**base, **given}, purpose)


def define_dataclass_flags(
    flag_values: flags.FlagValues,
    cls: type,
    module_name: str,
    only: Sequence[str] | None = None,
    helps: Mapping[str, str] | None = None,
    choices: Mapping[str, Sequence[str]] | None = None,
) -> tuple[str, ...]:
    """One flag per field of the dataclass ``cls`` (or those in ``only``), named as the field, with
    its default. Help comes from the field's metadata ``help``, else ``helps``; ``choices`` makes
    a str field an enum. Returns the flag names (``dataclass_from_flags`` reads them back)."""
    hints = typing.get_type_hints(cls)
    names = []
    for field in dataclasses.fields(cls):
        if only is not None and field.name not in only:
            continue
        help_text = field.metadata.get("help") or (helps or {}).get(field.name)
        if not help_text:
            raise TypeError(f"{cls.__name__}.{field.name}: no help text for its flag")
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        _define_one(
            flag_values, field.name, hints[field.name], default, help_text, module_name, (choices or {}).get(field.name)
        )
        names.append(field.name)
    return tuple(names)


def dataclass_from_flags(cls: type, flag_values: flags.FlagValues, names: Sequence[str], **fixed: Any) -> Any:
    """``cls`` built from the flags ``names`` (as ``define_dataclass_flags`` made them) and ``fixed``."""
    hints = typing.get_type_hints(cls)
    values = {}
    for name in names:
        value = flag_values[name].value
        values[name] = tuple(value) if typing.get_origin(hints[name]) is tuple else value
    return cls(**{**values, **fixed})


def define_calibration_flags(flag_values: flags.FlagValues) -> None:
    """--known, --sparse_depth and the fit's options (rsn_tf/calibration.py), shared by
    rsn-predict and rsn-serve-client so that both calibrate the same way."""
    f = dict(flag_values=flag_values)
    flags.DEFINE_multi_string("known", [], "x,y,metres: a pixel of known depth (repeatable).", **f)
    flags.DEFINE_string("sparse_depth", None, "Sparse depth for calibration: 16-bit PNG (mm) or .npy (m).", **f)
    flags.DEFINE_enum("calibrate", "scale", ["scale", "scale_shift"], "What the calibration fits.", **f)
    flags.DEFINE_enum("calibrate_space", "depth", ["depth", "inverse"], "Fit in depth or in inverse depth.", **f)
    flags.DEFINE_enum("robust", "ransac", ["ransac", "none"], "Robust fit (RANSAC) or plain least squares.", **f)
    flags.DEFINE_float("inlier_threshold", 0.1, "RANSAC: relative error under which a known point agrees.", **f)


def calibration_options(flag_values: flags.FlagValues) -> dict:
    """fit_calibration's keyword arguments from the flags of ``define_calibration_flags``."""
    if flag_values.known and flag_values.sparse_depth:
        raise CliError("--known and --sparse_depth: give one source of known depth, not both")
    if flag_values.sparse_depth and not os.path.exists(flag_values.sparse_depth):
        raise CliError(f"--sparse_depth={flag_values.sparse_depth}: no such file or directory")
    if flag_values.inlier_threshold <= 0:
        raise CliError(f"--inlier_threshold={flag_values.inlier_threshold}: must be > 0")
    return {
        "model": flag_values.calibrate,
        "space": flag_values.calibrate_space,
        "robust": flag_values.robust,
        "inlier_threshold": flag_values.inlier_threshold,
    }
