"""What every RSN-TF command line shares: absl flags in a private registry, help, and errors.

Each CLI keeps its flags in its own ``flags.FlagValues``, not absl's global ``FLAGS``, so
that several CLIs can be imported (and run) in one process, as the tests do, without
duplicate-flag errors or values leaking from one call to the next. ``run`` parses,
answers ``--help`` / ``--helpfull``, prints a one-line error naming the flag and exits 2
on a bad flag, and resets the registry afterwards.

The trainer's and the ablation's flags are generated from the experiment config
(``rsn_tf/config.py``): each config field carries its flag name and help.
"""

from __future__ import annotations

import os
import sys
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal

from absl import flags

from rsn_tf import config as config_lib
from rsn_tf.errors import UserError

__all__ = [
    "CliError",
    "new_flag_values",
    "run",
    "define_config_flags",
    "config_from_flags",
    "define_calibration_flags",
    "calibration_options",
]

HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull")


class CliError(UserError, ValueError):
    """A bad argument; ``run`` prints the message (which names the flag) and exits 2."""


def new_flag_values() -> flags.FlagValues:
    return flags.FlagValues()


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
    try:
        positionals = flag_values([program, *args])[1:]
    except flags.Error as error:
        print(f"{program}: {error}\nRun '{program} --help' for every flag.", file=sys.stderr)
        return 2
    try:
        return main(positionals)
    except (UserError, config_lib.ConfigError, *errors) as error:
        print(f"{program}: {error}", file=sys.stderr)
        return getattr(error, "exit_code", 2)  # e.g. 42: preempted, the checkpoint is saved
    finally:
        flag_values.unparse_flags()


CONFIG_MODULE = "experiment config (rsn_tf/config.py)"


def _define_one(flag_values: flags.FlagValues, name: str, hint: Any, default: Any, help_text: str) -> None:
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType)
    if optional:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is Literal:
        flags.DEFINE_enum(
            name, default, list(typing.get_args(hint)), help_text, flag_values=flag_values, module_name=CONFIG_MODULE
        )
    elif hint is bool:
        flags.DEFINE_boolean(name, default, help_text, flag_values=flag_values, module_name=CONFIG_MODULE)
    elif hint is int:
        flags.DEFINE_integer(name, default, help_text, flag_values=flag_values, module_name=CONFIG_MODULE)
    elif hint is float:
        flags.DEFINE_float(name, default, help_text, flag_values=flag_values, module_name=CONFIG_MODULE)
    else:
        flags.DEFINE_string(name, default, help_text, flag_values=flag_values, module_name=CONFIG_MODULE)


def define_config_flags(
    flag_values: flags.FlagValues,
    only: Sequence[str] | None = None,
    rename: dict[str, str] | None = None,
    purpose: Literal["train", "ablation"] = "train",
) -> dict[str, str]:
    """Define one flag per config field (or the fields in ``only``, by config key), plus ``--config``.

    Returns ``flag name -> config key``. A flag's shown default is the dataclass default;
    a preset-dependent one says so. Only flags given on the command line override a
    ``--config`` file (see ``config_from_flags``).
    """
    rename = rename or {}
    hints = config_lib.leaf_types()
    per_preset = {k for p in config_lib.PRESET_DEFAULTS for k in config_lib.preset_defaults(p, purpose)}
    mapping = {}
    for key, field in config_lib.config_fields().items():
        if only is not None and key not in only:
            continue
        name = rename.get(key, field.metadata["flag"])
        help_text = field.metadata["help"]
        default = field.default
        if key in per_preset:
            values = ", ".join(
                f"{p}: {config_lib.preset_defaults(p, purpose)[key]}" for p in config_lib.PRESET_DEFAULTS
            )
            help_text += f" Default per --preset ({values})."
            default = None
        _define_one(flag_values, name, hints[key], default, help_text)
        mapping[name] = key
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
