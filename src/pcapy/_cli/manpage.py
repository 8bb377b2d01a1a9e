"""The ``pcapy(1)`` manual page, written from the argument parsers (docs/pcapy.1 is its output).

``python -m pcapy._cli.manpage > docs/pcapy.1`` regenerates the committed page;
tests/cli/test_manpage.py fails when it differs from what this module writes. Every option's
text is its ``--help`` text; each option group is a subsection; each subcommand in
``SUBCOMMANDS`` whose module has a ``build_parser()`` gets a section of its own.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable

import pcapy

from . import SUBCOMMANDS
from ._args import build_parser

_DESCRIPTION = (
    "pcapy reads packets from a capture file (-r) or captures them live (-i), keeps those "
    "matching a filter expression in tcpdump's language (pcap-filter(7)), and prints one line "
    "per packet as tcpdump -nn prints it, or writes them to a file (-w). The options mean "
    "what they mean to tcpdump 4.99. Names are never looked up. Every error is one line on "
    "standard error, 'pcapy: message', with exit status 1."
)


#: argparse's own group titles, which differ between Python versions, as the page names them
_GROUP_TITLES = {"positional arguments": "arguments", "options": "general options",
                 "optional arguments": "general options"}


def roff_text(text: str) -> str:
    """Text safe in a roff paragraph: backslashes and leading dots escaped."""
    text = text.replace("\\", "\\e").replace("%%", "%")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line
                     for line in text.split("\n"))


def option_term(action: argparse.Action) -> str:
    """``\\fB\\-c\\fR \\fICOUNT\\fR`` for an option's ``.TP`` line."""
    names = ", ".join("\\fB" + name.replace("-", "\\-") + "\\fR" for name in action.option_strings)
    if action.nargs == 0 or not action.option_strings:
        return names or "\\fI" + str(action.metavar or action.dest) + "\\fR"
    metavar = action.metavar or (
        "|".join(str(choice) for choice in action.choices) if action.choices else
        action.dest.upper())
    return f"{names} \\fI{metavar}\\fR"


def option_entries(actions: Iterable[argparse.Action]) -> list[str]:
    """``.TP`` paragraphs, one per option with help text."""
    lines: list[str] = []
    for action in actions:
        if action.help in (None, argparse.SUPPRESS):
            continue
        lines += [".TP", option_term(action), roff_text(str(action.help))]
    return lines


def parser_sections(parser: argparse.ArgumentParser) -> list[str]:
    """One ``.SS`` subsection per argument group that has options."""
    lines: list[str] = []
    for group in parser._action_groups:  # argparse offers no public walk of its groups
        entries = option_entries(group._group_actions)
        if entries:
            title = _GROUP_TITLES.get(group.title or "", group.title or "").capitalize()
            lines += [f".SS {roff_text(title)}", *entries]
    return lines


def subcommand_sections() -> list[str]:
    """A section per subcommand whose module can describe its arguments."""
    lines: list[str] = []
    for name, module_name in sorted(SUBCOMMANDS.items()):
        try:
            module = importlib.import_module(f"{__package__}.{module_name}")
        except ImportError:
            continue  # an optional extra is missing: its page section too
        build = getattr(module, "build_parser", None)
        if build is None:
            continue
        parser = build()
        lines += [f".SH \"PCAPY {name.upper()}\"", ".B pcapy " + name,
                  roff_text(parser.description or ""), *parser_sections(parser)]
    return lines


def render() -> str:
    """The whole page."""
    lines = [
        f'.TH PCAPY 1 "" "pcapy {pcapy.__version__}" "User Commands"',
        ".SH NAME",
        "pcapy \\- read, capture, filter and print packets the way tcpdump does",
        ".SH SYNOPSIS",
        ".B pcapy",
        "[\\fIoptions\\fR] [\\fB\\-r\\fR \\fIFILE\\fR | \\fB\\-i\\fR \\fIIFACE\\fR] "
        "[\\fIexpression\\fR]",
        *[line for name in sorted(SUBCOMMANDS) for line in
          (".br", f".B pcapy {name}", "\\fIarguments\\fR ...")],
        ".SH DESCRIPTION",
        roff_text(_DESCRIPTION),
        ".SH OPTIONS",
        *parser_sections(build_parser()),
        *subcommand_sections(),
        ".SH EXIT STATUS",
        "0 when the work is done (also after Ctrl-C or SIGTERM, which end it at a packet "
        "boundary with the output flushed); 1 on any error, and from pcapy stats when a file "
        "could not be read to its end.",
        ".SH SEE ALSO",
        "tcpdump(1), pcap-filter(7), pcap-savefile(5)",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
